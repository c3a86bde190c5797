"""Write small ``.stax`` recordings with off-CPU spans and wakeups, for the off-CPU view tests.

Stacks are folded text, root first (``main;nap;clock_nanosleep;do_nanosleep``); names
in ``kernel`` become kernel frames (they must come last, as the kernel runs on top of
user code).  Events go through the real :class:`RecordingBuilder`, which links every
span to the wakeup that ended it; names are then written into ``frames`` with SQL,
as a symbol source would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

from stax.blocked_reason import BlockedReason
from stax.events import CounterValues, Event, ImageLoad, OffCpuInterval, Sample, ThreadName, Wakeup
from stax.recording.schema import to_sql_u64
from stax.recording.writer import RecordingBuilder

IMAGE_PATH = "/usr/bin/prog"
IMAGE_START = 0x400000
KERNEL_BASE = 0xFFFFFFFF81000000
SAMPLE_PERIOD_NS = 1_000_000
MS = 1_000_000

SCHEDULER = "schedule;__schedule"
KERNEL_NAMES = frozenset({
    "schedule", "__schedule", "do_nanosleep", "hrtimer_nanosleep", "pipe_read", "pipe_write",
    "__wake_up_common", "try_to_wake_up", "hrtimer_wakeup", "futex_wait_queue", "futex_wake",
    "__x64_sys_futex", "ksys_read", "ksys_write", "ep_poll",
})


class OffCpuRecording:
    """Collects events for one process, then writes and names the recording."""

    def __init__(self, path: Path, pid: int, threads: Mapping[int, str],
                 kernel: Iterable[str] = KERNEL_NAMES) -> None:
        self.path = path
        self.pid = pid
        self.kernel = set(kernel)
        self.addresses: dict[str, int] = {}
        self.events: list[Event] = [ImageLoad(0, pid, IMAGE_START, IMAGE_START + 0x100000, 0,
                                              IMAGE_PATH)]
        self.events += [ThreadName(0, pid, tid, name) for tid, name in sorted(threads.items())]
        self.clock = 10 * MS

    def _address(self, name: str) -> int:
        if name not in self.addresses:
            base = KERNEL_BASE if name in self.kernel else IMAGE_START
            self.addresses[name] = base + 0x40 * (len(self.addresses) + 1)
        return self.addresses[name]

    def _ips(self, folded: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(kernel ips, user ips), leaf first, as a backend delivers them."""
        names = folded.split(";") if folded else []
        kern = tuple(self._address(n) for n in reversed(names) if n in self.kernel)
        user = tuple(self._address(n) for n in reversed(names) if n not in self.kernel)
        return kern, user

    def samples(self, folded: str, tid: int, count: int) -> None:
        kern, user = self._ips(folded)
        for _ in range(count):
            self.events.append(Sample(self.clock, self.pid, tid, 0, SAMPLE_PERIOD_NS, kern, user))
            self.clock += SAMPLE_PERIOD_NS

    def span(self, folded: str, tid: int, duration_ns: int, reason: BlockedReason,
             waker: tuple[int, str] | None = None, waker_pid: int | None = None,
             wait_site: str = "") -> None:
        """One off-CPU span of ``tid``; ``waker`` = (waker tid, waker stack) wakes it near the end."""
        kern, user = self._ips(folded)
        start, end = self.clock, self.clock + duration_ns
        if waker is not None:
            waker_tid, waker_stack = waker
            wk, wu = self._ips(waker_stack)
            self.events.append(Wakeup(end - 1000, 1, self.pid if waker_pid is None else waker_pid,
                                      waker_tid, self.pid, tid, wk, wu))
        self.events.append(OffCpuInterval(start, end, self.pid, tid, 0, reason, wait_site, kern, user))
        self.clock = end + 1000

    def counters(self, tid: int, values: Mapping[str, int]) -> None:
        self.events.append(CounterValues(self.clock, self.pid, tid, dict(values)))

    def write(self) -> Path:
        builder = RecordingBuilder(self.path, plugins=None)
        self.events.sort(key=_event_time)  # a backend delivers events in time order
        builder.consume(self.events)
        builder.finish(symbolicate=False)
        db = sqlite3.connect(self.path)
        with db:
            for name, addr in self.addresses.items():
                is_kernel = name in self.kernel
                offset = to_sql_u64(addr if is_kernel else addr - IMAGE_START)
                db.execute("UPDATE frames SET function = ? WHERE offset = ? AND is_kernel = ?",
                           (name, offset, int(is_kernel)))
        db.close()
        return self.path


def _event_time(event: Event) -> int:
    return event.start if isinstance(event, OffCpuInterval) else event.time
