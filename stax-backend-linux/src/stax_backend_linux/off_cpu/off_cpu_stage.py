"""The off-CPU stage of a capture: context switches and wakeups -> spans and wakeups.

Opens the context-switch and sched_waking events into the sampler's rings
(off_cpu_events.py), reads /proc wchan for threads that just blocked when kernel
stacks cannot name the wait site (switch_tracker.py), and between time ordering and
the sink replaces the private switch and waking records with
:class:`~stax.events.OffCpuInterval` and :class:`~stax.events.Wakeup` events
(off_cpu_stream.py).  Spans still open when capture stops are closed at its end.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from stax.errors import CaptureError
from stax.events import Event
from stax.recording import meta_keys as mk
from stax_backend_linux.capture.capture_stage import CaptureStage
from stax_backend_linux.capture.event_opener import OffCpuStaxd
from stax_backend_linux.capture.targets import target_threads
from stax_backend_linux.off_cpu.events import OffCpuSetup, open_off_cpu
from stax_backend_linux.off_cpu.stream import OffCpuStream
from stax_backend_linux.off_cpu.switch_tracker import SwitchTracker
from stax_backend_linux.off_cpu.wakeup_attribution import WakeupAttribution
from stax_binfmt.kallsyms import kernel_addresses_visible
from stax_binfmt.perf_event_ffi import PerfEventError

if TYPE_CHECKING:
    from stax_backend_linux.capture.capture_session import CaptureSession
    from stax_backend_linux.capture.targets import PerCpuEvents
    from stax_backend_linux.decode.compiled_stream import CompiledStream
    from stax_backend_linux.decode.record_decoder import RecordDecoder


class OffCpuStage(CaptureStage):
    """``request.off_cpu``: when each thread blocked, for how long, why, and who woke it."""

    name = "off-CPU"

    def __init__(self) -> None:
        self.setup: OffCpuSetup | None = None
        self.stream: OffCpuStream | None = None
        """The Python path's span and wakeup tracking (None on the compiled path)."""
        self.compiled: CompiledStream | None = None
        """The session's compiled stream, when it tracks spans and wakeups instead."""
        self._decoder: RecordDecoder | None = None

    def open(self, session: CaptureSession, events: PerCpuEvents) -> None:
        req = session.request
        wakeup_bytes = session.wakeup_bytes
        try:
            setup = open_off_cpu(session.open_shaped, session.cpus, session.facts,
                                 enable_on_exec=bool(req.command) and not req.system_wide,
                                 inherit=not req.system_wide,
                                 wakeup_bytes=wakeup_bytes, dwarf=session.dwarf_sampling,
                                 staxd=OffCpuStaxd(session.opener, session.staxd_target(), wakeup_bytes,
                                                   kernel=req.kernel_stacks, dwarf=session.dwarf_sampling))
        except PerfEventError as exc:
            raise CaptureError(f"Cannot open the context-switch events for off-CPU recording "
                               f"({os.strerror(exc.errno or 0)}); record with --no-off-cpu.") from None
        self.setup = setup
        self._decoder = session.decoder
        session.opener.opened_in_process("context_switch")
        if setup.waking is not None:
            session.opener.opened_in_process("sched_waking")
        session.notes.extend(setup.notes)
        setup.register(session.decoder)
        setup.hand_over(events)
        # With kernel stacks, the recording builder names the wait site after symbolication
        # and classifies the span then (no kallsyms parse on the capture path); wchan is
        # the fallback only when there are no nameable kernel stacks.
        by_stack = setup.kernel_callchain and kernel_addresses_visible()
        if setup.kernel_callchain and not by_stack:
            session.notes.append("Off-CPU blocked reasons come from /proc wchan because kernel addresses in "
                                 "/proc/kallsyms are hidden (kernel.kptr_restrict); run "
                                 "'sudo sysctl kernel.kptr_restrict=0' to classify them by kernel stack.")
        if session.compiled is not None:  # fast_stream.c tracks spans and wakeups inside the round
            self.compiled = session.compiled
            self.compiled.off_cpu(keep_kernel_ips=req.kernel_stacks, wakeups=setup.waking is not None,
                                  target_only=not req.system_wide, use_wchan=not by_stack)
            self.compiled.seed(self._seed_threads(session))
            return
        tracker = SwitchTracker(keep_kernel_ips=req.kernel_stacks, use_wchan=not by_stack)
        threads: dict[int, int] = {}
        wakeups = None
        if setup.waking is not None:
            wakeups = WakeupAttribution(threads, target_only=not req.system_wide,
                                        keep_kernel_ips=req.kernel_stacks)
        self.stream = OffCpuStream(tracker, wakeups, threads)
        self.stream.seed(self._seed_threads(session))

    @staticmethod
    def _seed_threads(session: CaptureSession) -> list[tuple[int, int]]:
        """(pid, tid) of the threads known before any record arrives: the command, or -p's threads."""
        if session.command is not None:
            return [(session.command.pid, session.command.pid)]
        return target_threads(session.request.pids, session.request.threads)

    def start(self) -> None:
        if self.setup is not None:
            self.setup.enable_wakeups()

    def before_order(self, per_ring: Sequence[Sequence[object]]) -> None:
        if self.stream is not None:
            self.stream.tracker.note_round(per_ring)  # wchan while the thread is still parked

    def feed(self, events: list) -> list:
        return self.stream.process(events) if self.stream is not None else events

    def leftovers(self, end_time: int) -> Iterable[list[Event]]:
        if self.compiled is not None:
            yield self.compiled.finish(end_time)
        elif self.stream is not None:
            yield self.stream.finish(end_time)

    def metadata(self) -> dict[str, object]:
        """What the off-CPU side recorded and, where something is missing, why."""
        setup, d = self.setup, self._decoder
        counts = self._counts()
        if setup is None or d is None or counts is None:
            return {}
        use_wchan, spans, preempted, with_stack, closed_at_end, wchan_reads, wchan_hits, kept, dropped = (
            counts)
        meta: dict[str, object] = {
            mk.BACKEND_OFF_CPU_STACKS.field: setup.stacks,
            mk.BACKEND_OFF_CPU_REASON_SOURCE.field: "wchan" if use_wchan else "kernel stack",
            mk.BACKEND_OFF_CPU_SPANS.field: spans,
            mk.BACKEND_OFF_CPU_PREEMPTED_SPANS.field: preempted,
            mk.BACKEND_OFF_CPU_SPANS_WITH_STACK.field: with_stack,
            mk.BACKEND_OFF_CPU_CLOSED_AT_END.field: closed_at_end,
            mk.BACKEND_SWITCH_RECORDS.field: d.switch_records,
            mk.BACKEND_OFF_CPU_THROTTLED.field: d.off_cpu_throttled,
            mk.BACKEND_WAKEUPS_CAPTURED.field: setup.waking is not None,
        }
        if use_wchan:
            meta[mk.BACKEND_WCHAN_READS.field] = wchan_reads
            meta[mk.BACKEND_WCHAN_HITS.field] = wchan_hits
        if setup.wakeups_missing:
            meta[mk.BACKEND_WAKEUPS_MISSING.field] = setup.wakeups_missing
        if setup.waking is not None:
            meta[mk.BACKEND_WAKEUPS.field] = kept
            meta[mk.BACKEND_WAKEUPS_OUTSIDE_TARGET.field] = dropped
        return meta

    def _counts(self) -> tuple[bool, int, int, int, int, int, int, int, int] | None:
        """(use_wchan, spans, preempted, with stack, closed at end, wchan reads, wchan hits, wakeups
        kept, wakeups dropped) from whichever path tracked them."""
        if self.compiled is not None:
            c, lib = self.compiled, self.compiled.lib
            return (c.use_wchan, c.count(lib.STAX_COUNT_SPANS), c.count(lib.STAX_COUNT_PREEMPTED_SPANS),
                    c.count(lib.STAX_COUNT_SPANS_WITH_STACK), c.count(lib.STAX_COUNT_CLOSED_AT_END),
                    c.wchan_reads, c.wchan_hits, c.count(lib.STAX_COUNT_WAKEUPS_KEPT),
                    c.count(lib.STAX_COUNT_WAKEUPS_DROPPED))
        if self.stream is None:
            return None
        t, w = self.stream.tracker, self.stream.wakeups
        return (t.use_wchan, t.spans, t.preempted_spans, t.spans_with_stack, t.closed_at_end, t.wchan_reads,
                t.wchan_hits, w.kept if w is not None else 0, w.dropped if w is not None else 0)

    def notes(self) -> list[str]:
        d = self._decoder
        if d is None or not d.off_cpu_throttled:
            return []
        return [f"The kernel throttled the context-switch or sched_waking events "
                f"{d.off_cpu_throttled} times, so some off-CPU stacks or wakeups are missing "
                f"(kernel.perf_event_max_sample_rate)."]

    def close(self) -> None:
        if self.setup is not None:
            self.setup.close()
