"""MACH_SCHED context switches and MACH_MAKE_RUNNABLE wakeups -> OffCpuInterval and Wakeup.

xnu traces a switch in ``thread_invoke`` on the old thread (arg5), naming the new one
(arg2) and the reason (arg1, ast_t bits); MACH_STACK_HANDOFF is the same switch done
by handing the kernel stack over.  A thread is off the CPU from the switch where it
is arg5 to the next one where it is arg2, on any CPU.  Whether it was still
runnable: reason bits AST_PREEMPT / AST_QUANTUM / AST_URGENT (preemption) or
AST_YIELD say so at once; MACH_DISPATCH, traced when the switch completes, gives the
old thread's state (TH_WAIT: it blocks; TH_RUN alone: it waits for a CPU) and
settles it.  Runnable waits are :data:`BlockedReason.PREEMPTED`, never blocked time;
a blocked span's reason is the call it blocked in (:mod:`.wait_reasons`).

MACH_MAKE_RUNNABLE (``thread_unblock``) is traced by the waker (arg5) for the woken
thread (arg1): it becomes a :class:`~stax.events.Wakeup` and names the span's waker.

The stack of a span comes from lightweight PET: when a thread comes on-core and has
not been sampled this period, kperf samples it before it runs, so the kernel stack is
where it blocked (the user stack follows at its return to user space).  A closed span
therefore waits for that sample: it is emitted when the sample (and its deferred user
stack) arrives, or when the thread next switches out, or at the end.  Threads of the
kernel task (pid 0, idle threads among them) and threads of unknown processes are
not followed; neither are threads outside ``pids`` when it is given.
"""

from __future__ import annotations

import attrs

from stax.blocked_reason import BlockedReason
from stax.events import Event, OffCpuInterval, Wakeup
from stax_backend_macos.kd_buf import KdRecord
from stax_backend_macos.kdebug_codes import (
    AST_PREEMPTION,
    AST_YIELD,
    MACH_DISPATCH,
    MACH_MAKE_RUNNABLE,
    MACH_SCHED,
    MACH_STACK_HANDOFF,
    TH_RUN,
    TH_WAIT,
)
from stax_backend_macos.thread_events import KERNEL_TASK_PID, ThreadTable
from stax_backend_macos.wait_reasons import CallTracker

PREEMPTED = BlockedReason.PREEMPTED


@attrs.define(slots=True)
class _Span:
    start: int
    pid: int
    cpu: int
    reason: BlockedReason
    wait_site: str
    end: int = 0
    waker_tid: int | None = None
    kernel_ips: tuple[int, ...] = ()
    user_ips: tuple[int, ...] = ()
    awaiting_user: bool = False

    def interval(self, tid: int) -> OffCpuInterval:
        return OffCpuInterval(self.start, self.end, self.pid, tid, self.cpu, self.reason, self.wait_site,
                              self.kernel_ips, self.user_ips, self.waker_tid)


class SchedSwitches:
    """Pairs switch-outs with switch-ins; times in ns come from ``clock``."""

    def __init__(self, table: ThreadTable, calls: CallTracker, clock,  # noqa: ANN001
                 pids: set[int] | None = None) -> None:
        self.table = table
        self.calls = calls
        self.clock = clock
        self.pids = pids
        self._open: dict[int, _Span] = {}
        self._closed: dict[int, _Span] = {}
        """Spans ended by a switch-in, waiting for the on-core sample that carries their stack."""
        self._woken: dict[int, tuple[int, int]] = {}
        self.spans = 0
        self.spans_with_stack = 0
        self.wakeups = 0

    def _followed(self, tid: int) -> int | None:
        pid = self.table.pid(tid)
        if pid is None or pid == KERNEL_TASK_PID or (self.pids is not None and pid not in self.pids):
            return None
        return pid

    def feed(self, record: KdRecord, event_id: int) -> list[Event]:
        if event_id == MACH_SCHED or event_id == MACH_STACK_HANDOFF:
            return self._switch(record)
        if event_id == MACH_MAKE_RUNNABLE:
            return self._wakeup(record)
        if event_id == MACH_DISPATCH:
            span = self._open.get(record.arg1)
            if span is not None:
                state = record.arg3
                if state & TH_WAIT:
                    if span.reason is PREEMPTED:
                        span.reason, span.wait_site = self.calls.reason(record.arg1)
                elif state & TH_RUN:
                    span.reason, span.wait_site = PREEMPTED, ""
        return []

    def _switch(self, record: KdRecord) -> list[Event]:
        time = self.clock(record.timestamp)
        out: list[Event] = []
        old, new = record.tid, record.arg2
        if old != new:
            pid = self._followed(old)
            if pid is not None:
                out += self._emit_closed(old)
                if record.arg1 & (AST_PREEMPTION | AST_YIELD):
                    reason, site = PREEMPTED, ""
                else:
                    reason, site = self.calls.reason(old)
                self._open[old] = _Span(time, pid, record.cpu, reason, site)
        span = self._open.pop(new, None)
        if span is not None:
            span.end = time
            woke = self._woken.get(new)
            if woke is not None and span.start <= woke[0] <= time:
                span.waker_tid = woke[1]
            out += self._emit_closed(new)
            self._closed[new] = span
        return out

    def _wakeup(self, record: KdRecord) -> list[Event]:
        wakee, waker = record.arg1, record.tid
        wakee_pid = self._followed(wakee)
        waker_pid = self.table.pid(waker)
        if wakee_pid is None and (waker_pid is None or self._followed(waker) is None):
            return []
        time = self.clock(record.timestamp)
        self._woken[wakee] = (time, waker)
        self.wakeups += 1
        return [Wakeup(time, record.cpu, -1 if waker_pid is None else waker_pid, waker,
                       self.table.pid(wakee) or -1, wakee)]

    # -- stacks from on-core samples ---------------------------------------------------------------

    def blocked_stack(self, tid: int, kernel_ips: tuple[int, ...], user_ips: tuple[int, ...],
                      user_pending: bool) -> list[Event]:
        """The on-core sample of ``tid``: its stacks belong to the span that just ended."""
        span = self._closed.get(tid)
        if span is None or span.kernel_ips or span.user_ips:
            return []
        span.kernel_ips, span.user_ips, span.awaiting_user = kernel_ips, user_ips, user_pending
        self.spans_with_stack += 1
        return [] if user_pending else self._emit_closed(tid)

    def user_stack(self, tid: int, user_ips: tuple[int, ...]) -> list[Event]:
        """The deferred user stack of an on-core sample arrived."""
        span = self._closed.get(tid)
        if span is None or not span.awaiting_user:
            return []
        span.user_ips = user_ips
        return self._emit_closed(tid)

    def _emit_closed(self, tid: int) -> list[Event]:
        span = self._closed.pop(tid, None)
        if span is None:
            return []
        self.spans += 1
        return [span.interval(tid)]

    def thread_exit(self, tid: int) -> list[Event]:
        self._open.pop(tid, None)
        self.calls.forget(tid)
        return self._emit_closed(tid)

    def finish(self, end_time: int) -> list[Event]:
        """Spans still waiting for stacks, and spans still open, closed at ``end_time`` (ns)."""
        out: list[Event] = []
        for tid in list(self._closed):
            out += self._emit_closed(tid)
        for tid, span in self._open.items():
            if end_time > span.start:
                span.end = end_time
                self._closed[tid] = span
                out += self._emit_closed(tid)
        self._open.clear()
        return out
