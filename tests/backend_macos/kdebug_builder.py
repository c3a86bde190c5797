"""Build kdebug buffers and ktrace files byte by byte from the documented layouts.

Nothing here comes from the code under test: the debugids and layouts are written
out again from xnu's headers (bsd/sys/kdebug.h, osfmk/kperf/buffer.h, action.h,
callstack.h), dyld's Tracing.cpp and ktrace(5), so a wrong constant in the decoder
makes the tests fail instead of agreeing with itself.

Times are given in nanoseconds and written as mach ticks of the Apple-silicon
timebase 125/3 (24 MHz: one tick = 41.67 ns), so a time must be a whole number of
microseconds to convert exactly (1 us = 24 ticks).
"""

from __future__ import annotations

import plistlib
import struct
from collections.abc import Sequence

NUMER, DENOM = 125, 3
US = 1_000
MS = 1_000_000


def ticks(ns: int) -> int:
    assert (ns * DENOM) % NUMER == 0, f"{ns} ns is not a whole number of ticks"
    return ns * DENOM // NUMER


def code(klass: int, subclass: int, number: int) -> int:
    return (klass << 24) | (subclass << 16) | (number << 2)


START, END = 1, 2
# kdebug.h / buffer.h / Tracing.cpp, written out again
PERF_GEN_EVENT = code(37, 0, 0)        # 0x25000000
PERF_TI_DATA = code(37, 1, 1)          # 0x25010004
PERF_CS_KDATA = code(37, 2, 3)         # 0x2502000c
PERF_CS_UDATA = code(37, 2, 4)         # 0x25020010
PERF_CS_KHDR = code(37, 2, 5)          # 0x25020014
PERF_CS_UHDR = code(37, 2, 6)          # 0x25020018
PERF_TM_FIRE = code(37, 3, 0)          # 0x25030000
PERF_KPC_DATA_THREAD = code(37, 6, 8)  # 0x25060020
MACH_SCHED = 0x01400000
MACH_MAKE_RUNNABLE = 0x01400018
MACH_DISPATCH = 0x01400080
BSC_SYSCALL = 0x040C0000
TRACE_DATA_NEWTHREAD = 0x07000004
TRACE_DATA_THREAD_TERMINATE = 0x0700000C
TRACE_STRING_GLOBAL = 0x07010000
TRACE_STRING_EXEC = 0x07010008
TRACE_DATA_EXEC = 0x07000008
TRACE_STRING_THREADNAME = 0x07010010
TRACE_LOST_EVENTS = 0x07020008
DYLD_MAP_A = 0x1F050000
DYLD_MAP_B = 0x1F050004
DYLD_SHARED_CACHE_A = 0x1F050028

SAMPLERS = 0x1 | 0x4 | 0x8  # TH_INFO | KSTACK | USTACK
PEND_USER, NON_INTERRUPT = 0x1, 0x10
META_UPEND = 0x2
CS_VALID, CS_64BIT, CS_KERNEL, CS_TRUNCATED = 0x1, 0x4, 0x8, 0x10

KD_BUF = struct.Struct("<QQQQQQIIQ")
FIXUP = 0xF1F1F1F1  # the extra word kperf appends after the last frame


def pack_words(text: str, words: int) -> list[int]:
    raw = text.encode().ljust(words * 8, b"\0")
    return [int.from_bytes(raw[i:i + 8], "little") for i in range(0, words * 8, 8)]


class Trace:
    """A list of kd_buf records plus the thread map, in the order they are added."""

    def __init__(self) -> None:
        self.records: list[tuple[int, ...]] = []
        self.threads: list[tuple[int, int, str]] = []

    def event(self, ns: int, debugid: int, a1: int = 0, a2: int = 0, a3: int = 0, a4: int = 0, *,
              tid: int, cpu: int = 0) -> None:
        self.records.append((ticks(ns), a1, a2, a3, a4, tid, debugid, cpu, 0))

    def thread(self, tid: int, pid: int, command: str) -> None:
        self.threads.append((tid, pid, command))

    # -- kperf ----------------------------------------------------------------------------------

    def _stack(self, ns: int, hdr: int, data: int, frames: Sequence[int], flags: int, *, tid: int,
               cpu: int) -> None:
        words = [*frames, FIXUP]
        self.event(ns, hdr, flags, len(words), 0, 0, tid=tid, cpu=cpu)
        for i in range(0, len(words), 4):
            chunk = (list(words[i:i + 4]) + [0, 0, 0])[:4]
            self.event(ns, data, *chunk, tid=tid, cpu=cpu)

    def timer_fire(self, ns: int, period_ns: int, *, cpu: int = 0) -> None:
        self.event(ns, PERF_TM_FIRE, 0, 1, ticks(period_ns), 1, tid=0, cpu=cpu)

    def sample(self, ns: int, pid: int, tid: int, *, user: Sequence[int], kernel: Sequence[int] = (),
               cpu: int = 0, at_switch: bool = False, user_later_ns: int | None = None,
               counters: Sequence[int] = (), user_truncated: bool = False) -> None:
        """One kperf sample; the user stack comes in a later user-only block when ``user_later_ns``."""
        flags = PEND_USER | (NON_INTERRUPT if at_switch else 0)
        self.event(ns, PERF_GEN_EVENT | START, SAMPLERS, 1, 0, flags, tid=tid, cpu=cpu)
        self.event(ns, PERF_TI_DATA, pid, tid, 0, 1, tid=tid, cpu=cpu)
        kflags = CS_VALID | CS_64BIT | CS_KERNEL if kernel else CS_64BIT | CS_KERNEL
        self._stack(ns, PERF_CS_KHDR, PERF_CS_KDATA, kernel, kflags, tid=tid, cpu=cpu)
        ustack_flags = CS_VALID | CS_64BIT | (CS_TRUNCATED if user_truncated else 0)
        if user_later_ns is None:
            self._stack(ns, PERF_CS_UHDR, PERF_CS_UDATA, user, ustack_flags, tid=tid, cpu=cpu)
        for i in range(0, len(counters), 4):
            chunk = (list(counters[i:i + 4]) + [0, 0, 0])[:4]
            self.event(ns, PERF_KPC_DATA_THREAD, *chunk, tid=tid, cpu=cpu)
        self.event(ns, PERF_GEN_EVENT | END, SAMPLERS, META_UPEND if user_later_ns is not None else 0,
                   tid=tid, cpu=cpu)
        if user_later_ns is not None:
            self.user_block(user_later_ns, pid, tid, user, cpu=cpu, truncated=user_truncated)

    def user_block(self, ns: int, pid: int, tid: int, user: Sequence[int], *, cpu: int = 0,
                   truncated: bool = False) -> None:
        """The deferred user stack, logged at the thread's return to user space."""
        self.event(ns, PERF_GEN_EVENT | START, 0x8, 1, tid=tid, cpu=cpu)
        flags = CS_VALID | CS_64BIT | (CS_TRUNCATED if truncated else 0)
        self._stack(ns, PERF_CS_UHDR, PERF_CS_UDATA, user, flags, tid=tid, cpu=cpu)
        self.event(ns, PERF_TI_DATA, pid, tid, 0, 1, tid=tid, cpu=cpu)
        self.event(ns, PERF_GEN_EVENT | END, 0x8, tid=tid, cpu=cpu)

    # -- the scheduler ----------------------------------------------------------------------------

    def switch(self, ns: int, old: int, new: int, *, reason: int = 0, cpu: int = 0,
               old_state: int | None = None) -> None:
        self.event(ns, MACH_SCHED, reason, new, 31, 31, tid=old, cpu=cpu)
        if old_state is not None:
            self.event(ns, MACH_DISPATCH, old, reason, old_state, 1, tid=new, cpu=cpu)

    def make_runnable(self, ns: int, waker: int, wakee: int, *, cpu: int = 0) -> None:
        self.event(ns, MACH_MAKE_RUNNABLE, wakee, 31, 0, 1, tid=waker, cpu=cpu)

    def syscall(self, ns: int, tid: int, number: int, *, end: bool = False, cpu: int = 0) -> None:
        self.event(ns, BSC_SYSCALL | (number << 2) | (END if end else START), tid=tid, cpu=cpu)

    # -- threads and images -------------------------------------------------------------------------

    def new_thread(self, ns: int, creator: int, tid: int, pid: int, *, cpu: int = 0) -> None:
        self.event(ns, TRACE_DATA_NEWTHREAD, tid, pid, 0, 0, tid=creator, cpu=cpu)

    def thread_name(self, ns: int, tid: int, name: str, *, cpu: int = 0) -> None:
        events = max(1, -(-(len(name) + 1) // 32))  # 32 bytes (four words) per event
        words = pack_words(name, 4 * events)
        runs = [words[i:i + 4] for i in range(0, len(words), 4)]
        for index, run in enumerate(runs):
            func = (START if index == 0 else 0) | (END if index == len(runs) - 1 else 0)
            self.event(ns, TRACE_STRING_THREADNAME | func, *run, tid=tid, cpu=cpu)

    def dyld_image(self, ns: int, tid: int, path: str, uuid: bytes, load_address: int, *,
                   string_id: int = 0x70AC000000000001, cpu: int = 0) -> None:
        """What dyld traces per image: the path string, MAP_A, MAP_B, the string invalidated."""
        words = pack_words(path, 2 + 4 * (-(-max(0, len(path) + 1 - 16) // 32)))
        head, rest = words[:2], words[2:]
        runs = [rest[i:i + 4] for i in range(0, len(rest), 4)]
        self.event(ns, TRACE_STRING_GLOBAL | START | (0 if runs else END), DYLD_MAP_A, string_id, *head,
                   tid=tid, cpu=cpu)
        for index, run in enumerate(runs):
            func = END if index == len(runs) - 1 else 0
            self.event(ns, TRACE_STRING_GLOBAL | func, *run, tid=tid, cpu=cpu)
        low, high = int.from_bytes(uuid[:8], "little"), int.from_bytes(uuid[8:], "little")
        self.event(ns, DYLD_MAP_A, low, high, load_address, 0x1000003, tid=tid, cpu=cpu)
        self.event(ns, DYLD_MAP_B, 0x2A, string_id, tid=tid, cpu=cpu)
        self.event(ns, TRACE_STRING_GLOBAL | START | END, DYLD_MAP_A, string_id, tid=tid, cpu=cpu)

    # -- bytes --------------------------------------------------------------------------------------

    def kd_bufs(self) -> bytes:
        return b"".join(KD_BUF.pack(*r) for r in self.records)

    def thread_map_bytes(self) -> bytes:
        return b"".join(struct.pack("<Qi20s", tid, pid, name.encode()) for tid, pid, name in self.threads)


def chunk(tag: int, payload: bytes, major: int = 1, minor: int = 0) -> bytes:
    """One ktrace(5) chunk: 16-byte header, the data, zero padding to 8 bytes."""
    return struct.pack("<IHHQ", tag, major, minor, len(payload)) + payload + b"\0" * (-len(payload) % 8)


def header(magic: int = 0x55AA0300, sub_chunks: bytes = b"", flags: int = 1, numer: int = NUMER,
           denom: int = DENOM) -> bytes:
    """The 56-byte file header; its size field counts the 40 bytes after the first 16, plus sub-chunks."""
    return struct.pack("<IHHQIIQQIIII", magic, 1, 0, 40 + len(sub_chunks), numer, denom, 0,
                       1_700_000_000, 250_000, 0, 0, flags) + sub_chunks


def events_chunk(records: bytes, layout: str = "ktrace5") -> bytes:
    """The events chunk: ``ktrace5`` (size counts the 8-byte timestamp, as xnu <= 8020 and ktrace(5))
    or ``xnu10002`` (a 24-byte header whose size counts the records only)."""
    if layout == "ktrace5":
        return chunk(0x1E00, b"\0" * 8 + records)
    return struct.pack("<IHHQQ", 0x1E00, 1, 0, len(records), 0) + records


def ktrace_file(trace: Trace, *, layout: str = "ktrace5", magic: int = 0x55AA0300, split: int = 1,
                extra: bytes = b"", machine: dict | None = None) -> bytes:
    """A whole file: header (with a CPU-map sub-chunk), machine info, thread map, ``split`` events chunks."""
    cpu_map = chunk(0x1C00, struct.pack("<II8s", 0, 0, b"cpu0") + struct.pack("<II8s", 1, 0, b"cpu1"))
    out = header(magic, cpu_map)
    out += chunk(0x8C00, plistlib.dumps(machine or {"model": "Mac14,2"}, fmt=plistlib.FMT_BINARY))
    out += chunk(0x1D00, trace.thread_map_bytes())
    out += extra
    records = trace.kd_bufs()
    count = len(records) // 64
    step = -(-count // split)
    for i in range(0, count, step):
        out += events_chunk(records[i * 64:(i + step) * 64], layout)
    return out
