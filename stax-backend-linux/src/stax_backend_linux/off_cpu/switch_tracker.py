"""Pairing switch-outs with switch-ins into off-CPU intervals.

Input is the time-ordered stream of :mod:`~stax_backend_linux.off_cpu.records`.
perf_event.h: PERF_RECORD_SWITCH / PERF_RECORD_SWITCH_CPU_WIDE with
PERF_RECORD_MISC_SWITCH_OUT mark a task leaving a CPU; without it, arriving.
PERF_RECORD_MISC_SWITCH_OUT_PREEMPT says the task was still runnable (preempted or
yielding): that interval is :data:`BlockedReason.PREEMPTED`, a wait for a CPU.

* A switch-out opens a span for its thread; the next switch-in of the same tid, on
  any CPU, closes it with the scheduler's own timestamps.
* The context-switches sample written just before the switch-out record (same CPU,
  same tid, time <= the record's) carries the stack at switch-out; the recording
  writer classifies the span by the named wait site in its kernel part after capture.
  Until then the reason is the wchan read while the thread was parked, if any
  (off_cpu_reasons.py), else ``other``.  When that sample carries a user register and
  stack dump, the span comes out as a :class:`DumpedInterval`, unwound after capture.
* A switch-in with no open span (the thread left the CPU before recording began) is
  ignored, as is the last switch-out of a thread that has exited (a dead task's
  final schedule(), seen by CPU-wide events).
* Spans still open when the recording ends are closed at the end time (the thread
  was off the CPU at least that long inside the recording), except those of
  threads known to have exited, which are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from stax.blocked_reason import BlockedReason
from stax.events import IpTuple, OffCpuInterval
from stax_backend_linux.off_cpu.reasons import NO_REASON, read_wchan, reason_from_wchan
from stax_backend_linux.off_cpu.records import DumpedInterval, SwitchRecord, SwitchStack

# A context-switches sample further than this before its switch-out record is not its stack.
STACK_MATCH_WINDOW_NS = 5_000_000
PREEMPTED = BlockedReason.PREEMPTED


class _OpenSpan:
    __slots__ = ("start", "pid", "cpu", "reason", "wait_site", "kernel_ips", "user_ips", "regs", "stack")

    def __init__(self, start: int, pid: int, cpu: int, reason: BlockedReason, wait_site: str,
                 kernel_ips: IpTuple, user_ips: IpTuple, regs: bytes = b"", stack: bytes = b"") -> None:
        self.start = start
        self.pid = pid
        self.cpu = cpu
        self.reason = reason
        self.wait_site = wait_site
        self.kernel_ips = kernel_ips
        self.user_ips = user_ips
        self.regs = regs
        self.stack = stack


class SwitchTracker:
    """Turns switch records and switch-out stacks into :class:`OffCpuInterval` events.

    ``keep_kernel_ips`` False leaves kernel frames out of the emitted stacks
    (``--no-kernel``); ``use_wchan`` makes :meth:`note_round` read /proc wchan for
    parked threads, the only reason known at capture time.
    """

    def __init__(self, *, keep_kernel_ips: bool = True, use_wchan: bool = False) -> None:
        self.keep_kernel_ips = keep_kernel_ips
        self.use_wchan = use_wchan
        self._stacks: dict[int, SwitchStack] = {}
        self._open: dict[int, _OpenSpan] = {}
        self._exited: set[int] = set()
        self._wchan: dict[tuple[int, int], str] = {}
        self._last_waker: dict[int, tuple[int, int]] = {}
        self.spans = 0
        self.preempted_spans = 0
        self.spans_with_stack = 0
        self.wchan_reads = 0
        self.wchan_hits = 0
        self.closed_at_end = 0
        self.unpaired_outs = 0
        """Switch-outs replaced by a later switch-out of the same thread: its switch-in was not seen."""

    # -- before ordering --------------------------------------------------------------------------

    def note_round(self, per_ring: Iterable[Sequence[object]]) -> None:
        """Read wchan now for every thread whose newest switch this round was a voluntary switch-out.

        Called right after a drain round is decoded and before time ordering, so the
        thread is most likely still parked where it blocked.
        """
        if not self.use_wchan:
            return
        newest: dict[int, SwitchRecord] = {}
        for events in per_ring:
            for event in events:
                if type(event) is SwitchRecord and event.tid:
                    seen = newest.get(event.tid)
                    if seen is None or event.time >= seen.time:
                        newest[event.tid] = event
        for tid, record in newest.items():
            if record.out and not record.preempted:
                self.wchan_reads += 1
                name = read_wchan(record.pid, tid)
                if name:
                    self.wchan_hits += 1
                    self._wchan[(tid, record.time)] = name

    # -- the ordered stream -----------------------------------------------------------------------

    def stack(self, record: SwitchStack) -> None:
        """Remember the stack of a switch-out about to be reported for ``record.tid``."""
        self._stacks[record.tid] = record

    def waker(self, wakee_tid: int, when: int, waker_tid: int) -> None:
        """Remember who last woke ``wakee_tid`` (fills OffCpuInterval.waker_tid)."""
        self._last_waker[wakee_tid] = (when, waker_tid)

    def thread_exit(self, tid: int) -> None:
        self._exited.add(tid)
        self._open.pop(tid, None)
        self._stacks.pop(tid, None)

    def thread_start(self, tid: int) -> None:
        self._exited.discard(tid)  # a reused tid is a new thread

    def switch(self, record: SwitchRecord) -> OffCpuInterval | DumpedInterval | None:
        """Open a span on switch-out; return the closed span on the matching switch-in.

        Called once per switch record: :meth:`_close` is inlined here (same logic).
        """
        tid = record.tid
        if not tid:
            return None  # the idle task (CPU-wide events)
        if record.out:
            if tid in self._exited:
                return None
            if tid in self._open:
                self.unpaired_outs += 1
            self._open[tid] = self._open_span(record)
            return None
        span = self._open.pop(tid, None)
        if span is None:
            return None
        end = record.time
        start = span.start
        waker_tid = None
        woke = self._last_waker.get(tid)
        if woke is not None and start <= woke[0] <= end:
            waker_tid = woke[1]
        self.spans += 1
        reason = span.reason
        if reason is PREEMPTED:
            self.preempted_spans += 1
        interval = OffCpuInterval(start, end, span.pid, tid, span.cpu, reason, span.wait_site,
                                  span.kernel_ips, span.user_ips, waker_tid)
        return DumpedInterval(interval, span.regs, span.stack) if span.regs else interval

    def finish(self, end_time: int) -> list[OffCpuInterval | DumpedInterval]:
        """Close what is still open at ``end_time`` (threads that exited were dropped already)."""
        out = []
        for tid, span in self._open.items():
            if end_time > span.start:
                out.append(self._close(span, tid, end_time))
                self.closed_at_end += 1
        self._open.clear()
        self._stacks.clear()
        self._wchan.clear()
        return out

    # -- internals --------------------------------------------------------------------------------

    def _open_span(self, record: SwitchRecord) -> _OpenSpan:
        tid = record.tid
        kernel_ips: IpTuple = ()
        user_ips: IpTuple = ()
        regs = dump = b""
        stack = self._stacks.pop(tid, None)
        if (stack is not None and stack.cpu == record.cpu
                and 0 <= record.time - stack.time <= STACK_MATCH_WINDOW_NS):
            kernel_ips, user_ips, regs, dump = stack.kernel_ips, stack.user_ips, stack.regs, stack.stack
            self.spans_with_stack += 1
        if record.preempted:
            reason, site = BlockedReason.PREEMPTED, ""
        else:
            wchan = self._wchan.pop((tid, record.time), "") if self._wchan else ""
            reason, site = reason_from_wchan(wchan) if wchan else NO_REASON
        if not self.keep_kernel_ips:
            kernel_ips = ()
        return _OpenSpan(record.time, record.pid, record.cpu, reason, site, kernel_ips, user_ips, regs, dump)

    def _close(self, span: _OpenSpan, tid: int, end: int) -> OffCpuInterval | DumpedInterval:
        waker_tid = None
        woke = self._last_waker.get(tid)
        if woke is not None and span.start <= woke[0] <= end:
            waker_tid = woke[1]
        self.spans += 1
        if span.reason is BlockedReason.PREEMPTED:
            self.preempted_spans += 1
        interval = OffCpuInterval(span.start, end, span.pid, tid, span.cpu, span.reason, span.wait_site,
                                  span.kernel_ips, span.user_ips, waker_tid)
        return DumpedInterval(interval, span.regs, span.stack) if span.regs else interval
