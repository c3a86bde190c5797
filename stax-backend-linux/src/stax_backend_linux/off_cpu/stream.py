"""The step between time ordering and the sink that turns off-CPU records into events.

Every batch the time orderer releases passes through :meth:`OffCpuStream.process`:
on-CPU samples and side-band events go through unchanged; switch records and
switch-out stacks feed the :class:`~stax_backend_linux.off_cpu.switch_tracker.SwitchTracker`,
which emits an :class:`~stax.events.OffCpuInterval` at its switch-in (so intervals
are delivered in order of their end time); sched_waking records become
:class:`~stax.events.Wakeup` events at their own time.  The private records never
reach the sink.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from stax.events import Event, Sample, ThreadExit, ThreadName, ThreadStart, Wakeup
from stax_backend_linux.capture.proc_snapshot import thread_name
from stax_backend_linux.off_cpu.records import SwitchRecord, SwitchStack, WakingRecord
from stax_backend_linux.off_cpu.switch_tracker import SwitchTracker
from stax_backend_linux.off_cpu.wakeup_attribution import WakeupAttribution


class OffCpuStream:
    """Holds the thread table (tid -> pid) the tracker and the wakeup filter share."""

    def __init__(self, tracker: SwitchTracker, wakeups: WakeupAttribution | None,
                 threads: dict[int, int], name_from_proc: bool = True) -> None:
        self.tracker = tracker
        self.wakeups = wakeups
        self.threads = threads
        self.named: set[int] = {0}
        """Threads with a name in the recording (tid 0, the idle task, is named by the views)."""
        self.name_from_proc = name_from_proc
        """Name the threads outside the target that wake it, or that it wakes, from /proc."""

    def seed(self, pid_tids: Iterable[tuple[int, int]]) -> None:
        """Threads known before any record arrives (the command, or ``-p``'s threads)."""
        for pid, tid in pid_tids:
            self.threads[tid] = pid

    def process(self, events: Sequence[object]) -> list[Event]:
        """Replace the private records in one time-ordered batch with public events."""
        out: list[Event] = []
        append = out.append
        tracker = self.tracker
        threads = self.threads
        wakeups = self.wakeups
        for event in events:
            kind = type(event)
            if kind is Sample:
                append(event)  # type: ignore[arg-type]
            elif kind is SwitchRecord:
                if event.out:  # type: ignore[attr-defined]
                    threads[event.tid] = event.pid  # type: ignore[attr-defined]
                interval = tracker.switch(event)  # type: ignore[arg-type]
                if interval is not None:
                    append(interval)
            elif kind is SwitchStack:
                tracker.stack(event)  # type: ignore[arg-type]
            elif kind is WakingRecord:
                if wakeups is not None:
                    wakeup = wakeups.waking(event)  # type: ignore[arg-type]
                    if wakeup is not None:
                        tracker.waker(wakeup.wakee_tid, wakeup.time, wakeup.waker_tid)
                        if self.name_from_proc:
                            self._name_outsiders(wakeup, out)
                        append(wakeup)
            else:
                if kind is ThreadStart:
                    threads[event.tid] = event.pid  # type: ignore[attr-defined]
                    self.named.add(event.tid)  # type: ignore[attr-defined]  (its parent's name)
                    tracker.thread_start(event.tid)  # type: ignore[attr-defined]
                elif kind is ThreadName:
                    threads[event.tid] = event.pid  # type: ignore[attr-defined]
                    self.named.add(event.tid)  # type: ignore[attr-defined]
                elif kind is ThreadExit:
                    tracker.thread_exit(event.tid)  # type: ignore[attr-defined]
                append(event)  # type: ignore[arg-type]
        return out

    def _name_outsiders(self, wakeup: Wakeup, out: list[Event]) -> None:
        """A ThreadName from /proc, once, for each side of ``wakeup`` the recording has no name for.

        Threads outside the target (a shell, a kernel worker, another program's thread) send
        no COMM record the target's events see; read now, while they most likely still run,
        their name is what ``stax threads`` and ``stax wakers`` show instead of ``?``.  The
        thread table of the wakeup filter is not touched, so they stay outside the target.
        """
        for pid, tid in ((wakeup.waker_pid, wakeup.waker_tid), (wakeup.wakee_pid, wakeup.wakee_tid)):
            if tid in self.named:
                continue
            self.named.add(tid)
            name = thread_name(pid, tid, wakeup.time)
            if name is not None:
                out.append(name)

    def finish(self, end_time: int) -> list[Event]:
        """The spans still open when recording stopped, closed at ``end_time``."""
        return list(self.tracker.finish(end_time))
