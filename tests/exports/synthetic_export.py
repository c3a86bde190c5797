"""A small recording with everything the exports must carry, written through the real builder.

Two threads of one process: user frames in an ELF image with a build id, a call inlined
into ``compute`` (with files and lines), kernel frames, JIT frames (an ``ImageKind.JIT``
image, as perf maps name them), a sample with no stack, blocked spans (sleep) and a
runnable wait (preempted).  Events go through :class:`RecordingBuilder`; names, files
and lines are then written into ``frames`` / ``frame_inlines`` with SQL, as a symbol
source would.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from stax.blocked_reason import BlockedReason
from stax.events import Event, ImageKind, ImageLoad, OffCpuInterval, Sample, ThreadName
from stax.recording.schema import to_sql_u64
from stax.recording.writer import RecordingBuilder

PID, MAIN_TID, WORKER_TID = 400, 400, 401
APP_PATH = "/usr/bin/app"
APP_BUILD_ID = bytes(range(1, 21))
APP_START = 0x400000
JIT_START = 0x7F0000000000
JIT_PATH = "//anon"
KERNEL_BASE = 0xFFFFFFFF81000000
PERIOD_NS = 1_000_000
MS = 1_000_000
SLOT = 0x40
"""Each function owns this many bytes around its address (callers sit at return address - 1)."""

KERNEL = ("sys_write", "vfs_write", "do_nanosleep", "schedule")
JIT = ("jit_fn",)
SOURCES = {"main": ("/src/app.c", 10), "work": ("/src/app.c", 20), "compute": ("/src/app.c", 31),
           "interp": ("/src/interp.c", 7), "nap": ("/src/app.c", 40), "write": ("/src/io.c", 3)}
INLINED = {"compute": (("vec_add", "/src/vec.h", 12),)}
"""compute's address executes vec_add, inlined at /src/app.c:31 (innermost first)."""

ON_CPU = [  # (root-first stack, tid, samples)
    ("main;work;compute", MAIN_TID, 6),
    ("main;interp;jit_fn", MAIN_TID, 3),
    ("main;work;write;sys_write;vfs_write", WORKER_TID, 2),
    ("", WORKER_TID, 1),
]
OFF_CPU = [  # (root-first stack, tid, ms, reason)
    ("main;nap;do_nanosleep;schedule", WORKER_TID, 5, BlockedReason.SLEEP),
    ("main;nap;do_nanosleep;schedule", WORKER_TID, 5, BlockedReason.SLEEP),
    ("main;work;compute", MAIN_TID, 1, BlockedReason.PREEMPTED),
]

FOLDED = [
    "[no stack] 1",
    "main;interp;jit_fn 3",
    "main;work;compute;vec_add 6",
    "main;work;write;sys_write;vfs_write 2",
]
FOLDED_ANNOTATED = [
    "[no stack] 1",
    "main;interp;jit_fn_[j] 3",
    "main;work;compute;vec_add_[i] 6",
    "main;work;write;sys_write_[k];vfs_write_[k] 2",
]
"""What ``stax export -f folded`` must write, without and with ``--annotate``."""


def _bases() -> dict[str, int]:
    return {**{n: KERNEL_BASE for n in KERNEL}, **{n: JIT_START for n in JIT}}


PAGE_FAULTS_PERIOD = 10
"""Events one sample stands for in the ``event="page-faults"`` variant (its weight, as ``-c 10``)."""


def write_export_recording(path: Path, event: str | None = None) -> Path:
    """The recording; with ``event`` (``page-faults``) as ``stax record -e EVENT -c 10`` writes it:
    ``backend.event`` and ``backend.sample_period`` in the meta, each sample weighing 10 events."""
    addresses: dict[str, int] = {}

    def address(name: str) -> int:
        if name not in addresses:
            addresses[name] = _bases().get(name, APP_START) + SLOT * (len(addresses) + 1)
        return addresses[name]

    def ips(folded: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        names = folded.split(";") if folded else []
        kern = tuple(address(n) for n in reversed(names) if n in KERNEL)
        user = tuple(address(n) for n in reversed(names) if n not in KERNEL)
        return kern, user

    events: list[Event] = [
        ImageLoad(0, PID, APP_START, APP_START + 0x100000, 0, APP_PATH, ImageKind.ELF, APP_BUILD_ID),
        ImageLoad(0, PID, JIT_START, JIT_START + 0x10000, 0, JIT_PATH, ImageKind.JIT),
        ThreadName(0, PID, MAIN_TID, "app"), ThreadName(0, PID, WORKER_TID, "worker"),
    ]
    clock = 10 * MS
    for folded, tid, count in ON_CPU:
        kern, user = ips(folded)
        for _ in range(count):
            events.append(Sample(clock, PID, tid, 0, PAGE_FAULTS_PERIOD if event else PERIOD_NS, kern, user))
            clock += PERIOD_NS
    for folded, tid, ms, reason in OFF_CPU:
        kern, user = ips(folded)
        events.append(OffCpuInterval(clock, clock + ms * MS, PID, tid, 0, reason, "do_nanosleep"
                                     if reason is BlockedReason.SLEEP else "", kern, user))
        clock += ms * MS + 1000
    builder = RecordingBuilder(path, plugins=None)
    if event:
        builder.set_meta({"backend.event": event, "backend.sample_period": PAGE_FAULTS_PERIOD})
    builder.consume(events)
    builder.finish(symbolicate=False)
    _name_frames(path, addresses)
    return path


def _name_frames(path: Path, addresses: dict[str, int]) -> None:
    db = sqlite3.connect(path)
    with db:
        for name, addr in addresses.items():
            absolute = name in KERNEL or name in JIT
            offset = to_sql_u64(addr if absolute else addr - APP_START)
            span = (offset - SLOT // 2, offset + SLOT // 2 - 1, int(name in KERNEL))
            file, line = SOURCES.get(name, (None, None))
            db.execute("UPDATE frames SET function = ?, file = ?, line = ? WHERE offset BETWEEN ? AND ?"
                       " AND is_kernel = ?", (name, file, line, *span))
            for (frame_id,) in db.execute("SELECT id FROM frames WHERE offset BETWEEN ? AND ?"
                                          " AND is_kernel = ?", span).fetchall():
                for depth, (inlined, ifile, iline) in enumerate(INLINED.get(name, ())):
                    db.execute("INSERT INTO frame_inlines VALUES (?,?,?,?,?)",
                               (frame_id, depth, inlined, ifile, iline))
    db.close()
