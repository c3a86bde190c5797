"""One recording: open the events, drain the rings until told to stop, deliver events in time order.

A :class:`~stax_backend_linux.capture.ring_drainer.RingDrainer` thread copies the rings out
as soon as they cross ``wakeup_watermark`` (or every few ms) and hands the space
back to the kernel, so the kernel never waits on our Python.  The loop here ticks
(poll(2) on the command's pidfd with a short timeout) for decoding what was
copied, progress and stop checks.  Stopping always ends with a final drain and a
flush: nothing the kernel recorded is dropped.

Between time ordering and the sink the batch passes through the capture's optional
stages, one list in stream order (capture/capture_stage.py): off-CPU
(off_cpu/off_cpu_stage.py), hardware counters (counters/counter_stage.py), the DWARF
call graph (dwarf_callgraph/dwarf_stage.py).

The request's flags were checked by ``stax record`` (stax.cli.record_command); here
only what this host allows is checked (the kernel's maximum rate, that the pids exist).
The summary's metadata holds what only the backend knows (stax.recording.meta_keys).
"""

from __future__ import annotations

import errno
import os
import select
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from stax.contracts import CaptureProgress, CaptureSummary, EventSink, RecordRequest
from stax.errors import CaptureError, StaxError, UsageError
from stax.event_columns import expand_columns
from stax.recording import meta_keys as mk
from stax_backend_linux.capture import proc_snapshot
from stax_backend_linux.capture.capture_stage import CaptureStage
from stax_backend_linux.capture.count_sampling import CountSamplingStage, kept_in_user_space
from stax_backend_linux.capture.event_opener import KERNEL_FRAMES, EventOpener, StaxdTarget
from stax_backend_linux.capture.ring_buffer import PAGE_SIZE, RingBuffer
from stax_backend_linux.capture.ring_drainer import RingDrainer
from stax_backend_linux.capture.sampling_event import IN_PROCESS_FIX, is_default_sampling, sampling_event
from stax_backend_linux.capture.targets import (
    CommandTarget,
    PerCpuEvents,
    check_pids,
    open_system_wide,
    open_task_events,
    thread_pids,
    threads_of,
)
from stax_backend_linux.counters.counter_stage import CounterStage
from stax_backend_linux.decode import compiled_stream
from stax_backend_linux.decode.record_decoder import RecordDecoder
from stax_backend_linux.decode.time_order import TimeOrderer
from stax_backend_linux.dwarf_callgraph.dwarf_stage import DwarfStage
from stax_backend_linux.host_capabilities import PARANOID_FIX, SYSTEM_WIDE_FIX, HostFacts, probe_host
from stax_backend_linux.off_cpu.off_cpu_stage import OffCpuStage
from stax_binfmt import perf_event_sets
from stax_binfmt.perf_event_ffi import PerfEventError, disable
from stax_binfmt.perf_event_names import CONTEXT_SWITCH_EVENTS
from stax_binfmt.procfs import kernel_thread_name, online_cpus, read_int

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
# --call-graph fp (the hybrid default) and dwarf copy the user stack at every switch-out too:
# ~580 more bytes (fp's 512-byte copy), ~925 ring bytes a switch on the ping-pong against
# ~350 with fp-only.  The ring doubles (8 MiB lost records in about one loaded ping-pong
# run of four, bench/bench_offcpu.py; 16 MiB none in seven), as long as all CPUs' rings
# stay within MAX_OFF_CPU_RING_BYTES of locked memory (16 CPUs; more CPUs keep 8 MiB each).
ROOT_OFF_CPU_DUMP_DATA_PAGES = 4096
MAX_OFF_CPU_RING_BYTES = 256 << 20
MIN_DATA_PAGES = 8
SYSTEM_WIDE_FP_ONLY = ("Stacks are the kernel's frame-pointer walks (--call-graph fp-only) because staxd "
                       "copies other users' stacks only with allow_other_users = true in its policy, so "
                       "callers of functions without frame pointers (libc's) are missing; ask your "
                       "administrator to set it.")


class CaptureSession:
    """Runs one :class:`RecordRequest` to completion (see :meth:`run`)."""

    def __init__(self, request: RecordRequest, facts: HostFacts | None = None) -> None:
        if request.threads:  # -t: the processes the threads belong to, for their maps and names
            request = attrs.evolve(request, pids=thread_pids(request.threads))
        facts = facts or probe_host()
        event = sampling_event(request, facts)
        off_cpu_note = None
        if request.off_cpu and event.name in CONTEXT_SWITCH_EVENTS:
            # both would be the kernel's switch-out event of the same tasks, and the kernel
            # (6.1 on, seen on 6.18) writes every sample of two software events that fire
            # together with one event's id: ___perf_sw_event shares one perf_sample_data among
            # the matching events, and perf_prepare_sample keeps the id (sample_flags) the first
            # one set.  The sampler's samples then read as the off-CPU stage's switch stacks and
            # the profile is empty; `perf record -e cs/period=1,name=A/ -e cs/period=1,name=B/`
            # shows the same (every sample is B's).  So the samples win
            request = attrs.evolve(request, off_cpu=False)
            off_cpu_note = (f"Off-CPU time was not recorded: -e {event.name} samples the same switch-outs;"
                            " record without -e for off-CPU time and wakeups.")
        self.request = request
        self.facts = facts
        self.event = event
        self.cpus = online_cpus()
        self.notes: list[str] = []
        self.event_notes = [off_cpu_note] if off_cpu_note else []
        self.build_ids = proc_snapshot.BuildIdCache()
        self.decoder = RecordDecoder(self.build_ids, self.facts.max_stack, identifier=request.off_cpu)
        self.orderer = TimeOrderer()
        self.rings: list[RingBuffer] = []
        self.events: PerCpuEvents | None = None
        self.command: CommandTarget | None = None
        self.kernel = False
        self.drainer: RingDrainer | None = None
        self.end_time = 0
        self.opener = EventOpener(self.cpus, paranoid=self.facts.paranoid)  # in-process or staxd, per set
        if self._system_wide_copies_refused():
            request = self.request = attrs.evolve(request, call_graph="fp-only")
            self.notes.append(SYSTEM_WIDE_FP_ONLY)
        dwarf = DwarfStage.for_request(request, self.decoder)  # None for --call-graph fp-only
        self.dwarf_sampling = dwarf.sampling if dwarf is not None else None
        """The register and stack dump the sampler and the switch-out samples are opened with
        (--call-graph fp, the hybrid default, and dwarf)."""
        self.wakeup_bytes = self._data_pages() * PAGE_SIZE // 4
        self.compiled = compiled_stream.for_decoder(self.decoder, hybrid=dwarf is not None and dwarf.hybrid)
        """fast_stream.c doing the round (scan, order, off-CPU spans), or None: the Python path does
        (no compiled decoder, or --call-graph dwarf)."""
        # -c of a software event or tracepoint: the kernel samples every event, one in N is kept
        self.kernel_period = 1 if kept_in_user_space(self.event, request.period) else request.period
        self.stages: list[CaptureStage] = [stage for stage in (
            CountSamplingStage(request.period) if request.period != self.kernel_period else None,
            OffCpuStage() if request.off_cpu else None,  # private switch/waking records -> spans, wakeups
            CounterStage() if request.counters else None,  # follows thread creation; final reads at the end
            dwarf,  # holds samples and dumped off-CPU spans back: unwound after capture
        ) if stage is not None]
        """The optional stages between time ordering and the sink, in stream order."""

    # -- what this host allows ------------------------------------------------------------------

    def _system_wide_copies_refused(self) -> bool:
        """-a through staxd with the default hybrid stacks, where staxd copies no other user's stack."""
        req = self.request
        return (req.call_graph == "fp" and req.system_wide and not self.facts.system_wide_allowed
                and self.opener.hello() is not None and not self.opener.grants("other_users"))

    def _check_host(self) -> None:
        """The request's limits that depend on this host; its flags were checked by ``stax record``."""
        req = self.request
        max_rate = read_int("/proc/sys/kernel/perf_event_max_sample_rate", 100000)
        if req.period is None and req.frequency > max_rate:
            raise UsageError(f"-F {req.frequency} is above kernel.perf_event_max_sample_rate ({max_rate}); "
                             f"use a lower -F.")
        if req.pids:
            check_pids(req.pids)

    # -- opening --------------------------------------------------------------------------------

    def _data_pages(self) -> int:
        """Data pages of each CPU's ring (the mmap adds one page of header)."""
        if not (self.facts.euid == 0 or self.facts.perfmon_capable):
            return USER_DATA_PAGES
        if not self.request.off_cpu:
            return ROOT_DATA_PAGES
        fits = len(self.cpus) * ROOT_OFF_CPU_DUMP_DATA_PAGES * PAGE_SIZE <= MAX_OFF_CPU_RING_BYTES
        if self.dwarf_sampling is not None and fits:
            return ROOT_OFF_CPU_DUMP_DATA_PAGES
        return ROOT_OFF_CPU_DATA_PAGES

    def _open(self, kernel: bool, wakeup_bytes: int) -> PerCpuEvents:
        req = self.request

        def make_attr() -> Any:
            return perf_event_sets.sampling(req.frequency, kernel=kernel, inherit=not req.system_wide,
                                            start="on_exec" if req.command and not req.system_wide
                                            else "enabled",
                                            wakeup_bytes=wakeup_bytes, identifier=req.off_cpu,
                                            dwarf=self.dwarf_sampling, event=self.event,
                                            period=self.kernel_period)

        return self.open_shaped(make_attr)

    def open_shaped(self, make_attr: Callable[[], Any]) -> PerCpuEvents:
        """One event per CPU (per thread for -p, the command with inherit) for this target."""
        req = self.request
        if req.system_wide:
            return open_system_wide(make_attr, self.cpus)
        if self.command is not None:
            return open_task_events(make_attr, [self.command.pid], self.cpus)
        return open_task_events(make_attr, list(req.threads) or threads_of(req.pids), self.cpus)

    def _open_with_fallback(self, wakeup_bytes: int) -> PerCpuEvents:
        """Open with kernel frames if wanted and allowed; fall back to user-only on EACCES/EPERM."""
        req = self.request
        want_kernel = req.kernel_stacks
        kernel = want_kernel and self.facts.kernel_stacks_allowed
        system_wide_denied = req.system_wide and not self.facts.system_wide_allowed
        # staxd is worth asking for kernel frames only if its policy grants them to this user.
        staxd_kernel = want_kernel and not kernel and self.opener.grants("kernel_stacks")
        if not is_default_sampling(req):  # staxd grants cpu-clock sampling of whole processes only
            if system_wide_denied or self.facts.sampling_errno:
                raise CaptureError(f"-e, -c and -t are recorded with events stax opens itself, which"
                                   f" kernel.perf_event_paranoid ({self.facts.paranoid}) does not allow"
                                   f" here; {IN_PROCESS_FIX}.")
            staxd_kernel = False
            if self.event.kernel_only and not kernel:
                why = ("--no-kernel leaves kernel mode out" if not want_kernel else
                       f"kernel.perf_event_paranoid ({self.facts.paranoid}) keeps this user from it")
                fix = "drop --no-kernel" if not want_kernel else IN_PROCESS_FIX
                raise CaptureError(f"-e {req.event} happens in the kernel, so it is sampled only in kernel"
                                   f" mode, and {why}; {fix}.")
        if staxd_kernel or system_wide_denied or self.facts.sampling_errno:
            dwarf = self.dwarf_sampling
            granted = self.opener.sampling(self.staxd_target(), frequency=req.frequency,
                                           identifier=req.off_cpu, wakeup_bytes=wakeup_bytes,
                                           kernel=staxd_kernel or kernel,
                                           dwarf=dwarf)
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

    def staxd_target(self) -> StaxdTarget:
        """The target as staxd is asked for it: the held command, the -p pids, or every CPU."""
        if self.request.system_wide:
            return StaxdTarget(system_wide=True)
        if self.command is not None:
            return StaxdTarget(pids=(self.command.pid,), command=True)
        return StaxdTarget(pids=tuple(self.request.pids), system_wide=self.request.system_wide)

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
        return CaptureError(f"Cannot open the {req.event} sampling event ({os.strerror(err)}).")

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
        if self.drainer is not None:
            per_ring = [chunk for chunk in self.drainer.take() if chunk]
        else:
            per_ring = [chunk for chunk in (ring.read() for ring in self.rings) if chunk]
        if self.compiled is not None:
            ready = self.compiled.round(per_ring)
        else:
            decode = self.decoder.decode
            decoded = [decode(chunk) for chunk in per_ring]
            for stage in self.stages:
                stage.before_order(decoded)
            ready = self.orderer.round(decoded)
        for stage in self.stages:
            ready = stage.feed(ready)
        if ready:
            deliver(sink, ready)

    def _end_of_stream(self) -> Iterable[list]:
        """The orderer's last events through every stage, then what each stage still holds."""
        tail = self.compiled.flush() if self.compiled is not None else self.orderer.flush()
        batches: Iterable[list] = [tail]
        for stage in self.stages:
            batches = stage.end(batches, self.end_time)
        return batches

    def _lost(self) -> int:
        return self.decoder.lost_records + self.decoder.lost_samples

    def run(self, sink: EventSink, progress: Callable[[CaptureProgress], None],
            should_stop: Callable[[], bool]) -> CaptureSummary:
        """Record until the command exits, the duration passes or ``should_stop()``; then drain."""
        self._check_host()
        req = self.request
        try:
            if req.command:
                self.command = CommandTarget(req.command)
                self.command.start()
            t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            self.events = self._open_with_fallback(self.wakeup_bytes)
            for stage in self.stages:
                stage.open(self, self.events)
            self._map_rings(self.events)
            self.opener.enable_granted()  # staxd's fds come disabled: start them now the rings exist
            for stage in self.stages:
                stage.start()
            if req.pids or req.system_wide:
                pids = req.pids or proc_snapshot.all_pids()
                known = proc_snapshot.snapshot(pids, t0, self.build_ids)
                if self.compiled is not None:
                    self.compiled.add(known)
                else:
                    self.orderer.add(known)
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
            for batch in self._end_of_stream():
                if batch:
                    deliver(sink, batch)
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
        self.notes.extend(self.event_notes + self._kernel_thread_notes())
        for stage in self.stages:
            self.notes.extend(stage.notes())
        staxd_note = self.opener.note()
        if staxd_note:
            self.notes.append(staxd_note)
        return CaptureSummary(
            samples=d.samples,
            lost_records=lost,
            throttled=d.throttled,
            target_exit_code=self.command.exit_code if self.command is not None else None,
            target_signal=self.command.killed_by if self.command is not None else None,
            target_stopped=self.command.stopped if self.command is not None else False,
            notes=self.notes,
            metadata=self._metadata(post_capture),
            duration_s=captured,
        )

    def _kernel_thread_notes(self) -> list[str]:
        """Why a -p kernel thread gave few or no samples: it has no user space (kthreadd, kworkers)."""
        notes = []
        for pid in self.request.pids:
            name = kernel_thread_name(pid)
            if name is None:
                continue
            what = f"pid {pid} ({name}) is a kernel thread: it has no user space, so"
            if self.kernel:
                ran = "" if self.decoder.samples else " (it did not run while recording)"
                notes.append(f"{what} it is sampled only in the kernel and only while it runs{ran};"
                             " to see the kernel's work for a program, record that program (its kernel"
                             " frames are included) or the whole system with -a.")
            else:
                notes.append(f"{what} with kernel frames not recorded (--no-kernel, or not permitted)"
                             " nothing of it can be sampled; record it as root without --no-kernel,"
                             " or the whole system with -a.")
        return notes

    def _metadata(self, post_capture: float) -> dict[str, object]:
        """What only the backend knows, for the meta table (stored as ``backend.<field>``).

        The request (frequency, call graph), the kernel release and the duration are
        written by ``stax record`` from the request and the summary, not again here.
        """
        req, d = self.request, self.decoder
        metadata: dict[str, object] = {
            mk.BACKEND_EVENT.field: req.event,
            mk.BACKEND_KERNEL_STACKS.field: self.kernel,
            mk.BACKEND_CPUS.field: len(self.cpus),
            mk.BACKEND_PERF_EVENT_PARANOID.field: self.facts.paranoid,
            mk.BACKEND_CLOCK.field: "CLOCK_MONOTONIC",
            mk.BACKEND_RING_BUFFER_BYTES.field: self.rings[0].data_size if self.rings else 0,
            mk.BACKEND_POST_CAPTURE_S.field: round(post_capture, 3),
            mk.BACKEND_LOST_SAMPLES.field: d.lost_samples,
            mk.BACKEND_DECODER.field: d.implementation,  # "compiled" (fast_decode.c) or "python"
            mk.BACKEND_CAPTURE_STREAM.field: "compiled" if self.compiled is not None else "python",
            mk.BACKEND_EVENT_SETS.field: dict(self.opener.modes),
            mk.BACKEND_OFF_CPU.field: req.off_cpu,  # the off-CPU stage fails the capture if it cannot open
        }
        if self.event.is_time:  # what one sample stands for: CPU time, or a number of events (-c)
            metadata[mk.BACKEND_SAMPLE_PERIOD_NS.field] = req.period or 1_000_000_000 // req.frequency
        elif req.period is not None:
            metadata[mk.BACKEND_SAMPLE_PERIOD.field] = req.period
        if req.threads:
            metadata[mk.BACKEND_TARGET_TIDS.field] = list(req.threads)
        if self.command is not None:
            metadata[mk.BACKEND_TARGET_PID.field] = self.command.pid
        if req.pids:
            metadata[mk.BACKEND_TARGET_PIDS.field] = list(req.pids)
        if self.opener.failure is not None:
            metadata[mk.BACKEND_STAXD_UNUSED.field] = str(self.opener.failure)
        for stage in self.stages:
            metadata.update(stage.metadata())
        return metadata

    def _close(self) -> None:
        self.opener.close()
        if self.drainer is not None:
            self.drainer.stop()
            self.drainer = None
        for stage in self.stages:
            stage.close()
        for ring in self.rings:
            ring.close()
        self.rings = []
        if self.events is not None:
            self.events.close()
            self.events = None
        if self.command is not None:
            self.command.close()


def deliver(sink: EventSink, events: list) -> None:
    """Hand a batch to the sink: columns as they are if it takes them, else as event objects."""
    sink.consume(events if getattr(sink, "accepts_columns", False) else expand_columns(events))


def record(request: RecordRequest, sink: EventSink, progress: Callable[[CaptureProgress], None],
           should_stop: Callable[[], bool], facts: HostFacts | None = None) -> CaptureSummary:
    """Run one capture (the body of ``LinuxBackend.record``)."""
    return CaptureSession(request, facts).run(sink, progress, should_stop)


__all__: Sequence[str] = ["CaptureSession", "record"]
