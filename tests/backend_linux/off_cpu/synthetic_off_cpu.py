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
FUNCTION_SLOT = 0x40
"""Each function owns this many bytes of fake address space around its address."""

SCHEDULER = "schedule;__schedule"
KERNEL_NAMES = frozenset({
    "schedule", "__schedule", "do_nanosleep", "hrtimer_nanosleep", "pipe_read", "pipe_write",
    "__wake_up_common", "try_to_wake_up", "hrtimer_wakeup", "futex_wait_queue", "futex_wake",
    "__x64_sys_futex", "ksys_read", "ksys_write", "ep_poll", "asm_sysvec_apic_timer_interrupt",
    "hrtimer_interrupt",
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
            self.addresses[name] = base + FUNCTION_SLOT * (len(self.addresses) + 1)
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
                # a caller's frame may sit at its return address - 1: name the whole slot
                db.execute("UPDATE frames SET function = ? WHERE offset BETWEEN ? AND ?"
                           " AND is_kernel = ?", (name, offset - FUNCTION_SLOT // 2,
                                                  offset + FUNCTION_SLOT // 2 - 1, int(is_kernel)))
        db.close()
        return self.path


def _event_time(event: Event) -> int:
    return event.start if isinstance(event, OffCpuInterval) else event.time


# -- the two recordings most off-CPU tests use ------------------------------------------------

NAP_STACK = "_start;main;nap;clock_nanosleep;hrtimer_nanosleep;do_nanosleep;schedule;__schedule"
TIMER_WAKER = "asm_sysvec_apic_timer_interrupt;hrtimer_interrupt;hrtimer_wakeup;try_to_wake_up"
"""A timer interrupt's wakeup, landing on whatever ran: the idle task or an unrelated thread."""
BYSTANDER_PID = 999
READ_STACK = "_start;main;reader_loop;read;ksys_read;pipe_read;schedule;__schedule"
WRITE_WAKER = "_start;start_thread;writer_loop;write;ksys_write;pipe_write;__wake_up_common;try_to_wake_up"
LOCK_STACK = ("_start;start_thread;writer_loop;pthread_mutex_lock;__x64_sys_futex;futex_wait_queue;"
              "schedule;__schedule")
UNLOCK_WAKER = "_start;main;reader_loop;pthread_mutex_unlock;__x64_sys_futex;futex_wake;try_to_wake_up"

NAP_PID = 300
READER, WRITER = 201, 202


def write_nap_recording(path: Path) -> Path:
    """One thread sleeping 10 x 100 ms in nap(), 50 ms of CPU work and 3 preemptions (6 ms)."""
    rec = OffCpuRecording(path, NAP_PID, {NAP_PID: "nap"})
    rec.samples("_start;main;compute", NAP_PID, 50)
    for i in range(10):
        # the interrupt hit the idle task 6 times and a busy unrelated thread 4 times
        waker = (0, TIMER_WAKER) if i % 5 < 3 else (BYSTANDER_PID, f"bystander_work;{TIMER_WAKER}")
        rec.span(NAP_STACK, NAP_PID, 100 * MS, BlockedReason.SLEEP, waker=waker,
                 waker_pid=waker[0], wait_site="do_nanosleep")
    for _ in range(3):
        rec.span("_start;main;compute", NAP_PID, 2 * MS, BlockedReason.PREEMPTED)
    return rec.write()


def write_pingpong_recording(path: Path) -> Path:
    """A reader blocked 200 x 5 ms in read() on a pipe, 196 of them woken by the writer
    from write(); the writer blocked 20 x 1 ms on a futex, woken by the reader, and
    preempted once (3 ms); both have hardware counters."""
    rec = OffCpuRecording(path, 200, {200: "pingpong", READER: "reader", WRITER: "writer"})
    rec.samples("_start;main;reader_loop;parse", READER, 30)
    rec.samples("_start;start_thread;writer_loop;produce", WRITER, 70)
    for i in range(200):
        waker = None if i % 50 == 49 else (WRITER, WRITE_WAKER)  # 4 spans with no wakeup
        rec.span(READ_STACK, READER, 5 * MS, BlockedReason.PIPE_IPC, waker=waker, wait_site="pipe_read")
        if i % 10 == 0:
            rec.span(LOCK_STACK, WRITER, 1 * MS, BlockedReason.LOCK, waker=(READER, UNLOCK_WAKER),
                     wait_site="futex_wait_queue")
    rec.span("_start;start_thread;writer_loop;produce", WRITER, 3 * MS, BlockedReason.PREEMPTED)
    rec.counters(READER, {"cycles": 1_000_000, "instructions": 1_500_000})
    rec.counters(WRITER, {"cycles": 4_000_000, "instructions": 2_000_000})
    return rec.write()
