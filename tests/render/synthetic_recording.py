"""Write small ``.stax`` recordings from folded-stack text, for analysis and renderer tests.

Each function gets a fake address in one executable image (kernel functions in the
kernel image); samples go through the real :class:`RecordingBuilder`, and names are
then written into the ``frames`` table with SQL, as a symbol source would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

from stax.events import ImageLoad, Sample, ThreadName
from stax.recording.schema import to_sql_u64
from stax.recording.writer import RecordingBuilder

IMAGE_PATH = "/usr/bin/prog"
IMAGE_START = 0x400000
KERNEL_BASE = 0xFFFFFFFF81000000
SAMPLE_PERIOD_NS = 1_000_000
FUNCTION_SLOT = 0x40
"""Each function owns this many bytes of fake address space around its address."""


def write_recording(
    path: Path,
    stacks: Iterable[tuple[str, int]] | Iterable[tuple[str, int, int]],
    *,
    kernel: Iterable[str] = (),
    inlines: Mapping[str, tuple[str, ...]] | None = None,
    threads: Mapping[int, str] | None = None,
    pid: int = 100,
    unnamed: Iterable[str] = (),
    rename: Mapping[str, str] | None = None,
) -> Path:
    """Write ``path`` with ``count`` samples of each root-first ``a;b;c`` stack.

    A third tuple item is the tid (default ``pid``).  Names in ``kernel`` are kernel
    frames (they must come last in a stack, as the kernel runs on top of user code);
    ``inlines`` maps a function to the functions inlined at its address, innermost
    first; ``threads`` names tids; names in ``unnamed`` stay unresolved; ``rename`` gives a
    function its real name (for names the ``a;b`` syntax cannot hold).
    """
    kernel = set(kernel)
    unnamed = set(unnamed)
    threads = dict(threads or {pid: "prog"})
    addresses: dict[str, int] = {}

    def address(name: str) -> int:
        if name not in addresses:
            base = KERNEL_BASE if name in kernel else IMAGE_START
            addresses[name] = base + FUNCTION_SLOT * (len(addresses) + 1)
        return addresses[name]

    builder = RecordingBuilder(path, plugins=None)
    events: list[object] = [ImageLoad(0, pid, IMAGE_START, IMAGE_START + 0x100000, 0, IMAGE_PATH)]
    events += [ThreadName(0, pid, tid, name) for tid, name in sorted(threads.items())]
    builder.consume(events)
    time = 1
    batch: list[Sample] = []
    for entry in stacks:
        folded, count = entry[0], entry[1]
        tid = entry[2] if len(entry) > 2 else pid
        names = folded.split(";") if folded else []
        user = tuple(address(n) for n in reversed(names) if n not in kernel)
        kern = tuple(address(n) for n in reversed(names) if n in kernel)
        for _ in range(count):
            batch.append(Sample(time, pid, tid, 0, SAMPLE_PERIOD_NS, kern, user))
            time += SAMPLE_PERIOD_NS
            if len(batch) >= 50_000:
                builder.consume(batch)
                batch = []
    builder.consume(batch)
    builder.finish(symbolicate=False)
    _name_frames(path, addresses, kernel, unnamed, inlines or {}, rename or {})
    return path


def _name_frames(path: Path, addresses: Mapping[str, int], kernel: set[str], unnamed: set[str],
                 inlines: Mapping[str, tuple[str, ...]], rename: Mapping[str, str]) -> None:
    db = sqlite3.connect(path)
    with db:
        for name, addr in addresses.items():
            if name in unnamed:
                continue
            offset = to_sql_u64(addr if name in kernel else addr - IMAGE_START)
            # A caller's frame may sit at its return address - 1: name the whole slot.
            span = (offset - FUNCTION_SLOT // 2, offset + FUNCTION_SLOT // 2 - 1, int(name in kernel))
            db.execute("UPDATE frames SET function = ? WHERE offset BETWEEN ? AND ? AND is_kernel = ?",
                       (rename.get(name, name), *span))
            for (frame_id,) in db.execute(
                "SELECT id FROM frames WHERE offset BETWEEN ? AND ? AND is_kernel = ?", span
            ).fetchall():
                for depth, inlined in enumerate(inlines.get(name, ())):
                    db.execute("INSERT INTO frame_inlines VALUES (?,?,?,?,?)",
                               (frame_id, depth, inlined, None, None))
    db.close()
