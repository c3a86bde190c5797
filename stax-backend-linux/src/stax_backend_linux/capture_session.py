"""One recording: open the events, drain the rings until told to stop, deliver events in time order.

A :class:`~stax_backend_linux.ring_drainer.RingDrainer` thread copies the rings out
as soon as they cross ``wakeup_watermark`` (or every few ms) and hands the space
back to the kernel, so the kernel never waits on our Python.  The loop here ticks
(poll(2) on the command's pidfd with a short timeout) for decoding what was
copied, progress and stop checks.  Stopping always ends with a final drain and a
flush: nothing the kernel recorded is dropped.

With ``request.off_cpu`` the context-switch and sched_waking events share the rings
(off_cpu_events.py); their records are turned into off-CPU intervals and wakeups
between time ordering and the sink (off_cpu_stream.py).
"""

from __future__ import annotations

import errno
import os
import select
import time
from collections.abc import Callable, Sequence
from typing import Any

from stax.contracts import CaptureProgress, CaptureSummary, EventSink, RecordRequest
from stax.errors import CaptureError, StaxError, UsageError
from stax_backend_linux import perf_event_attr as pea
from stax_backend_linux import proc_snapshot
from stax_backend_linux.counter_capture import CounterCapture
from stax_backend_linux.dwarf_sample_stream import DwarfSampleStream
from stax_backend_linux.event_opener import (
    KERNEL_FRAMES,
    EventOpener,
    OffCpuStaxd,
    StaxdTarget,
    open_counter_groups,
)
from stax_backend_linux.host_capabilities import PARANOID_FIX, SYSTEM_WIDE_FIX, HostFacts, probe_host
from stax_backend_linux.kernel_symbols import kernel_addresses_visible
from stax_backend_linux.off_cpu_events import OffCpuSetup, open_off_cpu
from stax_backend_linux.off_cpu_stream import OffCpuStream
from stax_backend_linux.perf_event_ffi import PerfEventError, disable
from stax_backend_linux.record_decoder import RecordDecoder
from stax_backend_linux.ring_buffer import PAGE_SIZE, RingBuffer
from stax_backend_linux.ring_drainer import RingDrainer
from stax_backend_linux.switch_tracker import SwitchTracker
from stax_backend_linux.targets import (
    CommandTarget,
    PerCpuEvents,
    check_pids,
    online_cpus,
    open_system_wide,
    open_task_events,
    threads_of,
)
from stax_backend_linux.time_order import TimeOrderer
from stax_backend_linux.wakeup_attribution import WakeupAttribution

POLL_TICK_S = 0.1
PROGRESS_INTERVAL_S = 0.25
# 512 KiB of data per CPU fits the default kernel.perf_event_mlock_kb (516 KiB per CPU,
# header page included) for unprivileged users; root is not limited, so it gets more
# slack for a slow sink.  At 999 Hz even 1 KiB samples fill 512 KiB in half a second,
# and we drain every POLL_TICK_S.
USER_DATA_PAGES = 128
ROOT_DATA_PAGES = 512
# Off-CPU recording adds three records per context switch (switch-out sample with its
# stack, switch-out, switch-in) plus the wakeups: a program switching 50k times a second
# writes ~10 MB/s per CPU.  8 MiB rings ride out the GIL stalls of a busy decoder.
ROOT_OFF_CPU_DATA_PAGES = 2048
MIN_DATA_PAGES = 8
CALL_GRAPHS = ("fp", "dwarf")


def _read_int(path: str, default: int) -> int:
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return default


class CaptureSession:
    """Runs one :class:`RecordRequest` to completion (see :meth:`run`)."""

    def __init__(self, request: RecordRequest, facts: HostFacts | None = None) -> None:
        self.request = request
        self.facts = facts or probe_host()
        self.cpus = online_cpus()
        self.notes: list[str] = []
        self.build_ids = proc_snapshot.BuildIdCache()
        self.decoder = RecordDecoder(self.build_ids, self.facts.max_stack, identifier=request.off_cpu)
        self.orderer = TimeOrderer()
        self.rings: list[RingBuffer] = []
        self.events: PerCpuEvents | None = None
        self.command: CommandTarget | None = None
        self.kernel = False
        self.off_cpu_setup: OffCpuSetup | None = None
        self.off_cpu: OffCpuStream | None = None
        self.drainer: RingDrainer | None = None
        self.end_time = 0
        self.dwarf = DwarfSampleStream.for_request(request, self.decoder)  # None unless --call-graph dwarf
        self.opener = EventOpener(self.cpus, paranoid=self.facts.paranoid)  # in-process or staxd, per set
        self.counters: CounterCapture | None = None

    # -- validation -----------------------------------------------------------------------------

    def _validate(self) -> None:
        req = self.request
        targets = bool(req.command) + bool(req.pids) + bool(req.system_wide)
        if targets != 1:
            raise UsageError("Give exactly one target: a command after '--', -p PID, or -a.")
        if req.frequency <= 0:
            raise UsageError(f"-F {req.frequency} is not a sampling frequency; give a positive number of Hz.")
        max_rate = _read_int("/proc/sys/kernel/perf_event_max_sample_rate", 100000)
        if req.frequency > max_rate:
            raise UsageError(f"-F {req.frequency} is above kernel.perf_event_max_sample_rate ({max_rate}); "
                             f"use a lower -F.")
        if req.duration is not None and req.duration <= 0:
            raise UsageError("--duration must be a positive number of seconds.")
        if req.call_graph not in CALL_GRAPHS:
            raise UsageError(f"--call-graph {req.call_graph} is not supported; use fp or dwarf.")
        if req.pids:
            check_pids(req.pids)

    # -- opening --------------------------------------------------------------------------------

    def _data_pages(self) -> int:
        if self.facts.euid == 0 or self.facts.perfmon_capable:
            return ROOT_OFF_CPU_DATA_PAGES if self.request.off_cpu else ROOT_DATA_PAGES
        return USER_DATA_PAGES

    def _open(self, kernel: bool, wakeup_bytes: int) -> PerCpuEvents:
        req = self.request

        def make_attr() -> Any:
            attr = pea.sampling_attr(req.frequency, kernel=kernel, enable_on_exec=bool(req.command),
                                     inherit=not req.system_wide, wakeup_bytes=wakeup_bytes,
                                     identifier=req.off_cpu)
            return self.dwarf.sampling.apply(attr) if self.dwarf is not None else attr

        return self._open_shaped(make_attr)

    def _open_shaped(self, make_attr: Callable[[], Any]) -> PerCpuEvents:
        """One event per CPU (per thread for -p, the command with inherit) for this target."""
        req = self.request
        if req.system_wide:
            return open_system_wide(make_attr, self.cpus)
        if self.command is not None:
            return open_task_events(make_attr, [self.command.pid], self.cpus)
        return open_task_events(make_attr, threads_of(req.pids), self.cpus)

    def _open_off_cpu(self, events: PerCpuEvents, wakeup_bytes: int) -> None:
        """Open the off-CPU events into the sampler's rings and set up the stream that pairs them."""
        req = self.request
        try:
            setup = open_off_cpu(self._open_shaped, self.cpus, self.facts, enable_on_exec=bool(req.command),
                                 inherit=not req.system_wide, wakeup_bytes=wakeup_bytes,
                                 staxd=OffCpuStaxd(self.opener, self._staxd_target(), wakeup_bytes,
                                                   kernel=req.kernel_stacks))
        except PerfEventError as exc:
            raise CaptureError(f"Cannot open the context-switch events for off-CPU recording "
                               f"({os.strerror(exc.errno or 0)}); record with --no-off-cpu.") from None
        self.off_cpu_setup = setup
        self.opener.opened_in_process("context_switch")
        if setup.waking is not None:
            self.opener.opened_in_process("sched_waking")
        self.notes.extend(setup.notes)
        setup.register(self.decoder)
        setup.hand_over(events)
        # With kernel stacks, the recording builder names the wait site after symbolication
        # and classifies the span then (no kallsyms parse on the capture path); wchan is
        # the fallback only when there are no nameable kernel stacks.
        by_stack = setup.kernel_callchain and kernel_addresses_visible()
        if setup.kernel_callchain and not by_stack:
            self.notes.append("Off-CPU blocked reasons come from /proc wchan because kernel addresses in "
                              "/proc/kallsyms are hidden (kernel.kptr_restrict); run "
                              "'sudo sysctl kernel.kptr_restrict=0' to classify them by kernel stack.")
        tracker = SwitchTracker(keep_kernel_ips=req.kernel_stacks, use_wchan=not by_stack)
        threads: dict[int, int] = {}
        wakeups = None
        if setup.waking is not None:
            wakeups = WakeupAttribution(threads, target_only=not req.system_wide,
                                        keep_kernel_ips=req.kernel_stacks)
        self.off_cpu = OffCpuStream(tracker, wakeups, threads)
        if self.command is not None:
            self.off_cpu.seed([(self.command.pid, self.command.pid)])
        elif req.pids:
            self.off_cpu.seed((pid, tid) for pid in req.pids for tid in threads_of([pid]))

    def _open_with_fallback(self, wakeup_bytes: int) -> PerCpuEvents:
        """Open with kernel frames if wanted and allowed; fall back to user-only on EACCES/EPERM."""
        req = self.request
        want_kernel = req.kernel_stacks
        kernel = want_kernel and self.facts.kernel_stacks_allowed
        system_wide_denied = req.system_wide and not self.facts.system_wide_allowed
        # staxd is worth asking for kernel frames only if its policy grants them to this user.
        staxd_kernel = want_kernel and not kernel and self.opener.grants("kernel_stacks")
        if staxd_kernel or system_wide_denied or self.facts.sampling_errno:
            dwarf = self.dwarf.sampling if self.dwarf is not None else None
            granted = self.opener.sampling(self._staxd_target(), frequency=req.frequency,
                                           identifier=req.off_cpu, wakeup_bytes=wakeup_bytes,
                                           kernel=staxd_kernel or kernel,
                                           dwarf=(dwarf.regs_mask, dwarf.stack_size) if dwarf else None)
            if granted is not None:
                self.kernel = staxd_kernel or kernel
                if want_kernel and not self.kernel:
                    self.opener.lose(KERNEL_FRAMES)
                return granted
            if system_wide_denied:
                raise CaptureError(f"System-wide recording (-a) is not permitted because "
                                   f"kernel.perf_event_paranoid is {self.facts.paranoid}; {SYSTEM_WIDE_FIX}.")
        self.opener.opened_in_process("sampling")
        try:
            try:
                events = self._open(kernel, wakeup_bytes)
            except PerfEventError as exc:
                if not (kernel and exc.errno in (errno.EACCES, errno.EPERM)):
                    raise
                kernel = False
                events = self._open(False, wakeup_bytes)
                self.notes.append("Kernel frames are missing because the kernel refused kernel-mode sampling "
                                  f"({os.strerror(exc.errno or 0)}); to record them, {PARANOID_FIX}.")
        except PerfEventError as exc:
            raise self._open_error(exc) from None
        if want_kernel and not kernel and not self.notes:
            self.opener.lose(KERNEL_FRAMES)  # the recording's one staxd note says why and how to fix it
        self.kernel = kernel
        return events

    def _staxd_target(self) -> StaxdTarget:
        """The target as staxd is asked for it: the held command, the -p pids, or every CPU."""
        if self.command is not None:
            return StaxdTarget(pids=(self.command.pid,), command=True)
        return StaxdTarget(pids=tuple(self.request.pids), system_wide=self.request.system_wide)

    def _open_counters(self, events: PerCpuEvents) -> None:
        """The counter groups (--counters), their members redirected into each CPU's ring."""
        req = self.request
        if self.command is not None:
            threads = [(self.command.pid, self.command.pid)]
        else:
            threads = [(pid, tid) for pid in req.pids for tid in threads_of([pid])]
        groups, note = open_counter_groups(self.opener, self._staxd_target(), self.facts, threads=threads,
                                           identifier=req.off_cpu, kernel=req.kernel_stacks)
        if note:
            self.notes.append(note)
        if groups:
            self.counters = CounterCapture(groups)
            self.counters.hand_over(events)
            self.decoder.counter_reads = self.counters.reads

    def _open_error(self, exc: PerfEventError) -> StaxError:
        req = self.request
        err = exc.errno or 0
        if err in (errno.EACCES, errno.EPERM):
            if req.pids:
                who = ", ".join(str(p) for p in req.pids)
                return CaptureError(f"Not permitted to profile pid {who}: it belongs to another user or "
                                    f"kernel.perf_event_paranoid ({self.facts.paranoid}) forbids it; "
                                    f"run as its owner or as root.")
            return CaptureError(f"perf_event_open is not permitted (kernel.perf_event_paranoid is "
                                f"{self.facts.paranoid}); {PARANOID_FIX}.")
        if err == errno.ESRCH and req.pids:
            return UsageError(f"Process {', '.join(map(str, req.pids))} exited before recording could start.")
        if err == errno.EMFILE:
            return CaptureError("Too many open files for one event per thread and CPU; raise the limit "
                                "with 'ulimit -n' and try again.")
        return CaptureError(f"Cannot open the cpu-clock sampling event ({os.strerror(err)}).")

    def _map_rings(self, events: PerCpuEvents) -> None:
        for fd in events.leaders:
            pages = self._data_pages()
            while True:
                try:
                    self.rings.append(RingBuffer(fd, pages))
                    break
                except OSError as exc:
                    if exc.errno in (errno.EPERM, errno.ENOMEM) and pages > MIN_DATA_PAGES:
                        pages //= 2  # over the mlock budget: a smaller ring still works
                        continue
                    raise CaptureError(
                        f"Cannot map the perf ring buffer ({os.strerror(exc.errno or 0)}); raise "
                        f"kernel.perf_event_mlock_kb or 'ulimit -l' and try again.") from None
        try:
            events.redirect_followers()
        except PerfEventError as exc:
            reason = os.strerror(exc.errno or 0)
            raise CaptureError(f"Cannot share one ring buffer per CPU ({reason}).") from None

    # -- the loop -------------------------------------------------------------------------------

    def _round(self, sink: EventSink) -> None:
        """Decode what the drainer copied since the last round, and deliver what is now in order."""
        decode = self.decoder.decode
        if self.drainer is not None:
            per_ring = [chunk for chunk in self.drainer.take() if chunk]
        else:
            per_ring = [chunk for chunk in (ring.read() for ring in self.rings) if chunk]
        decoded = [decode(chunk) for chunk in per_ring]
        off_cpu = self.off_cpu
        if off_cpu is not None:
            off_cpu.tracker.note_round(decoded)
            ready = off_cpu.process(self.orderer.round(decoded))
        else:
            ready = self.orderer.round(decoded)
        if self.counters is not None:
            self.counters.observe(ready)  # thread creation: whose group an exiting thread reports to
        if self.dwarf is not None:
            ready = self.dwarf.process(ready)  # spools the samples; unwound after capture
        if ready:
            sink.consume(ready)

    def _lost(self) -> int:
        return self.decoder.lost_records + self.decoder.lost_samples

    def run(self, sink: EventSink, progress: Callable[[CaptureProgress], None],
            should_stop: Callable[[], bool]) -> CaptureSummary:
        """Record until the command exits, the duration passes or ``should_stop()``; then drain."""
        self._validate()
        req = self.request
        try:
            if req.command:
                self.command = CommandTarget(req.command)
                self.command.start()
            wakeup = self._data_pages() * PAGE_SIZE // 4
            t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            self.events = self._open_with_fallback(wakeup)
            if req.off_cpu:
                self._open_off_cpu(self.events, wakeup)
            if req.counters:
                self._open_counters(self.events)
            self._map_rings(self.events)
            self.opener.enable_granted()  # staxd's fds come disabled: start them now the rings exist
            if self.off_cpu_setup is not None:
                self.off_cpu_setup.enable_wakeups()
            if req.pids or req.system_wide:
                pids = req.pids or proc_snapshot.all_pids()
                self.orderer.add(proc_snapshot.snapshot(pids, t0, self.build_ids))
            started = time.monotonic()
            self.drainer = RingDrainer(self.rings)
            self.drainer.start()
            if self.command is not None:
                self.command.release()
            self._loop(sink, progress, should_stop, started)
            self._stop_target()
            captured = time.monotonic() - started  # the duration; what follows is post-processing
            self.drainer.stop()
            self.drainer.drain_once()  # what the kernel wrote before the events were disabled
            self._round(sink)
            while self.drainer.backlog:
                self._round(sink)
            tail = self.orderer.flush()
            if self.counters is not None:
                self.counters.observe(tail)
            if self.off_cpu is not None:
                tail = self.off_cpu.process(tail) + self.off_cpu.finish(self.end_time)
            if self.dwarf is not None:
                tail = self.dwarf.process(tail)
            if tail:
                sink.consume(tail)
            for unwound in self.dwarf.finish() if self.dwarf is not None else ():
                sink.consume(unwound)
            if self.counters is not None:
                sink.consume(self.counters.finish(self.end_time))  # final read() of every group
            progress(CaptureProgress(captured, self.decoder.samples, self._lost()))
            return self._summary(captured, time.monotonic() - started - captured)
        finally:
            self._close()

    def _loop(self, sink: EventSink, progress: Callable[[CaptureProgress], None],
              should_stop: Callable[[], bool], started: float) -> None:
        poller = select.poll()
        pidfd = self.command.pidfd if self.command is not None else -1
        if pidfd >= 0:
            poller.register(pidfd, select.POLLIN)
        deadline = started + self.request.duration if self.request.duration else None
        next_progress = started + PROGRESS_INTERVAL_S
        tick_ms = int(POLL_TICK_S * 1000)
        target_done = False
        try:
            while True:
                backlog = self.drainer is not None and self.drainer.backlog > 0
                for fd, _revents in poller.poll(0 if backlog else tick_ms):
                    if fd == pidfd:
                        target_done = True
                        poller.unregister(pidfd)
                self._round(sink)
                now = time.monotonic()
                if now >= next_progress:
                    progress(CaptureProgress(now - started, self.decoder.samples, self._lost()))
                    next_progress = now + PROGRESS_INTERVAL_S
                if self.command is not None and (target_done or (pidfd < 0 and self.command.poll_exited())):
                    return
                if deadline is not None and now >= deadline:
                    return
                if should_stop():
                    return
        except KeyboardInterrupt:
            return  # Ctrl-C reached us directly: stop like should_stop() and keep everything

    def _stop_target(self) -> None:
        """Reap or stop the command, and disable the events so the final drain is complete."""
        if self.command is not None:
            if self.command.poll_exited():
                self.command.wait()
            else:
                self.command.terminate()
        if self.events is not None:
            for fd in self.events.all_fds():
                try:
                    disable(fd)
                except PerfEventError:
                    pass
        self.end_time = time.clock_gettime_ns(time.CLOCK_MONOTONIC)

    def _summary(self, captured: float, post_capture: float) -> CaptureSummary:
        """``captured``: seconds from the start of sampling to its stop; ``post_capture``: the
        final drain, decoding and DWARF unwinding after it (not part of the duration)."""
        d = self.decoder
        lost = self._lost()
        if lost:
            self.notes.append(f"{lost} records were lost because the ring buffers filled; "
                              f"try a lower -F.")
        if d.throttled:
            self.notes.append(f"The kernel throttled sampling {d.throttled} times "
                              f"(kernel.perf_event_max_sample_rate); try a lower -F.")
        req = self.request
        if self.dwarf is not None:
            self.notes.extend(self.dwarf.notes())
        staxd_note = self.opener.note()
        if staxd_note:
            self.notes.append(staxd_note)
        ring_bytes = self.rings[0].data_size if self.rings else 0
        metadata: dict[str, object] = {
            "backend": "linux-perf",
            "event": "cpu-clock",
            "frequency": req.frequency,
            "sample_period_ns": 1_000_000_000 // req.frequency,
            "call_graph": req.call_graph,
            "kernel_stacks": self.kernel,
            "cpus": len(self.cpus),
            "perf_event_paranoid": self.facts.paranoid,
            "kernel_release": os.uname().release,
            "clock": "CLOCK_MONOTONIC",
            "ring_buffer_bytes_per_cpu": ring_bytes,
            "duration_s": round(captured, 3),
            "post_capture_s": round(post_capture, 3),
            "lost_samples": d.lost_samples,
            "decoder": d.implementation,  # "compiled" (fast_decode.c) or "python"
        }
        if self.command is not None:
            metadata["target_pid"] = self.command.pid
        metadata["event_sets"] = dict(self.opener.modes)
        if self.opener.failure is not None:
            metadata["staxd_unused"] = str(self.opener.failure)
        if req.counters:
            metadata["counters"] = self.counters is not None
            metadata["counter_reads"] = len(self.counters.reads) if self.counters is not None else 0
        metadata.update(self._off_cpu_metadata())
        metadata.update(self.dwarf.metadata() if self.dwarf is not None else {})
        if req.pids:
            metadata["target_pids"] = list(req.pids)
        return CaptureSummary(
            samples=d.samples,
            lost_records=lost,
            throttled=d.throttled,
            target_exit_code=self.command.exit_code if self.command is not None else None,
            notes=self.notes,
            metadata=metadata,
            duration_s=captured,
        )

    def _off_cpu_metadata(self) -> dict[str, object]:
        """What the off-CPU side recorded and, where something is missing, why."""
        setup, stream, d = self.off_cpu_setup, self.off_cpu, self.decoder
        if setup is None or stream is None:
            return {"off_cpu": False}
        tracker = stream.tracker
        meta: dict[str, object] = {
            "off_cpu": True,
            "off_cpu_stacks": setup.stacks,
            "off_cpu_reason_source": "wchan" if tracker.use_wchan else "kernel stack",
            "off_cpu_spans": tracker.spans,
            "off_cpu_preempted_spans": tracker.preempted_spans,
            "off_cpu_spans_with_stack": tracker.spans_with_stack,
            "off_cpu_closed_at_end": tracker.closed_at_end,
            "switch_records": d.switch_records,
            "off_cpu_throttled": d.off_cpu_throttled,
            "wakeups_captured": setup.waking is not None,
        }
        if tracker.use_wchan:
            meta["wchan_reads"] = tracker.wchan_reads
            meta["wchan_hits"] = tracker.wchan_hits
        if setup.wakeups_missing:
            meta["wakeups_missing"] = setup.wakeups_missing
        if stream.wakeups is not None:
            meta["wakeups"] = stream.wakeups.kept
            meta["wakeups_outside_target"] = stream.wakeups.dropped
        if d.off_cpu_throttled:
            self.notes.append(f"The kernel throttled the context-switch or sched_waking events "
                              f"{d.off_cpu_throttled} times, so some off-CPU stacks or wakeups are missing "
                              f"(kernel.perf_event_max_sample_rate).")
        return meta

    def _close(self) -> None:
        self.opener.close()
        if self.drainer is not None:
            self.drainer.stop()
            self.drainer = None
        if self.dwarf is not None:
            self.dwarf.close()
        if self.off_cpu_setup is not None:
            self.off_cpu_setup.close()
        for ring in self.rings:
            ring.close()
        self.rings = []
        if self.events is not None:
            self.events.close()
            self.events = None
        if self.command is not None:
            self.command.close()


def record(request: RecordRequest, sink: EventSink, progress: Callable[[CaptureProgress], None],
           should_stop: Callable[[], bool], facts: HostFacts | None = None) -> CaptureSummary:
    """Run one capture (the body of ``LinuxBackend.record``)."""
    return CaptureSession(request, facts).run(sink, progress, should_stop)


__all__: Sequence[str] = ["CaptureSession", "record"]
