"""sched_waking hits -> :class:`stax.events.Wakeup`, kept to the threads being recorded.

The tracepoint fires in the waker's context (try_to_wake_up), so the sample's
pid/tid are the waker's and the raw ``pid`` field is the wakee's *tid*.  The wakee's
process id is looked up in the thread table the stream keeps (tid -> pid, from
switch records, FORK and COMM); unknown wakees keep pid = tid.

For a command or ``-p`` target the tracepoint has to be opened system-wide (it fires
in whichever task does the waking, often one outside the target), so every other
wakeup on the machine arrives too; only those whose waker or wakee is a thread of
the target are kept, which keeps the recording small.  ``-a`` keeps all of them.
"""

from __future__ import annotations

from stax.events import Wakeup
from stax_backend_linux.off_cpu.records import WakingRecord


class WakeupAttribution:
    """Filters and completes wakeups; ``threads`` is the shared tid -> pid table."""

    def __init__(self, threads: dict[int, int], *, target_only: bool, keep_kernel_ips: bool = True) -> None:
        self.threads = threads
        self.target_only = target_only
        self.keep_kernel_ips = keep_kernel_ips
        self.kept = 0
        self.dropped = 0

    def waking(self, record: WakingRecord) -> Wakeup | None:
        """The Wakeup for ``record``, or None when neither side belongs to the target."""
        threads = self.threads
        wakee = record.wakee_tid
        if wakee <= 0 or (self.target_only and wakee not in threads and record.waker_tid not in threads):
            self.dropped += 1
            return None
        self.kept += 1
        return Wakeup(record.time, record.cpu, record.waker_pid, record.waker_tid,
                      threads.get(wakee, wakee), wakee,
                      record.kernel_ips if self.keep_kernel_ips else (), record.user_ips)
