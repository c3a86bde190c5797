"""Real register + stack snapshots from the C harness, and an independent symboliser.

``programs/snapshot_harness.c`` records, at known points of known call chains, what
PERF_SAMPLE_REGS_USER and PERF_SAMPLE_STACK_USER would carry, plus the return
addresses glibc's ``backtrace()`` (libgcc's unwinder, a separate implementation)
found at the same point.  Names come from binutils (``nm``, ``readelf``), and libc's
from its detached debug file, never from the code under test.
"""

from __future__ import annotations

import bisect
import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import attrs

PROGRAMS = Path(__file__).resolve().parent / "programs"
HARNESS_SOURCE = PROGRAMS / "snapshot_harness.c"
DEBUG_ROOT = Path("/usr/lib/debug/.build-id")


@attrs.frozen
class Snapshot:
    tag: str
    regs: dict[str, int]
    stack: bytes
    backtrace: tuple[int, ...]
    """libgcc's answer: [0] is inside snap_save, [1:] are the caller chain of ``snap``."""


@attrs.frozen
class SnapshotRun:
    binary: Path
    maps: str
    snapshots: list[Snapshot]


def run(*argv: str | Path, check: bool = True) -> str:
    return subprocess.run([str(a) for a in argv], check=check, capture_output=True, text=True).stdout


def build_harness(out: Path, *flags: str) -> Path:
    cc = shutil.which("gcc") or shutil.which("cc")
    assert cc, "gcc is required (apt-get install gcc)"
    run(cc, *flags, "-o", out, HARNESS_SOURCE)
    return out


def run_harness(binary: Path, mode: str, out_dir: Path, count: int | None = None) -> SnapshotRun:
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = [binary, mode, out_dir] + ([str(count)] if count is not None else [])
    run(*argv)
    snapshots = []
    index = 0
    while (out_dir / f"{index}.regs").exists():
        regs: dict[str, int] = {}
        tag = ""
        backtrace: tuple[int, ...] = ()
        for line in (out_dir / f"{index}.regs").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "tag":
                tag = value
            elif key == "backtrace":
                backtrace = tuple(int(v, 16) for v in value.split())
            else:
                regs[key] = int(value, 16)
        snapshots.append(Snapshot(tag, regs, (out_dir / f"{index}.stack").read_bytes(), backtrace))
        index += 1
    return SnapshotRun(binary, (out_dir / "maps").read_text(), snapshots)


@attrs.frozen
class _Map:
    start: int
    end: int
    offset: int
    path: str


def executable_maps(maps: str) -> list[_Map]:
    out = []
    for line in maps.splitlines():
        fields = line.split(None, 5)
        if len(fields) == 6 and "x" in fields[1] and fields[5].startswith("/"):
            start, end = (int(v, 16) for v in fields[0].split("-"))
            out.append(_Map(start, end, int(fields[2], 16), fields[5].strip()))
    return out


@functools.cache
def _load_segments(path: str) -> list[tuple[int, int, int]]:
    """(p_offset, p_vaddr, p_filesz) of each PT_LOAD, from ``readelf -lW``."""
    segments = []
    for line in run("readelf", "-lW", path).splitlines():
        fields = line.split()
        if fields and fields[0] == "LOAD":
            segments.append((int(fields[1], 16), int(fields[2], 16), int(fields[4], 16)))
    return segments


@functools.cache
def _symbol_file(path: str) -> str:
    """The file whose .symtab names ``path``'s functions: itself, or its debug file by build id."""
    notes = run("readelf", "-n", path)
    match = re.search(r"Build ID: ([0-9a-f]+)", notes)
    if match:
        build_id = match.group(1)
        debug = DEBUG_ROOT / build_id[:2] / f"{build_id[2:]}.debug"
        if debug.exists():
            return str(debug)
    return path


@functools.cache
def _functions(path: str) -> tuple[list[int], list[tuple[int, int, str]]]:
    """Function symbols (start, size, name) sorted by start, from ``nm``."""
    symbol_file = _symbol_file(path)
    text = run("nm", "-S", "--defined-only", symbol_file)
    if not re.search(r" [tTwW] ", text):
        text = run("nm", "-D", "-S", "--defined-only", path)
    functions = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[2] in "tTwWiI":
            functions.append((int(fields[0], 16), int(fields[1], 16), fields[3].split("@")[0]))
        elif len(fields) == 3 and fields[1] in "tTwW":  # no size (assembly labels like __restore_rt)
            functions.append((int(fields[0], 16), 0, fields[2].split("@")[0]))
    functions.sort()
    return [f[0] for f in functions], functions


class Symbolizer:
    """Names for absolute pcs of one process, from its maps and binutils."""

    def __init__(self, maps: str) -> None:
        self.maps = executable_maps(maps)

    def locate(self, pc: int) -> tuple[str, int] | None:
        """(path, ELF virtual address) of an absolute pc."""
        for m in self.maps:
            if m.start <= pc < m.end:
                file_offset = pc - m.start + m.offset
                for p_offset, p_vaddr, p_filesz in _load_segments(m.path):
                    if p_offset <= file_offset < p_offset + p_filesz:
                        return m.path, p_vaddr + file_offset - p_offset
        return None

    def name(self, pc: int) -> str:
        located = self.locate(pc)
        if located is None:
            return f"?{pc:#x}"
        path, vaddr = located
        starts, functions = _functions(path)
        index = bisect.bisect_right(starts, vaddr) - 1
        while index >= 0:
            start, size, name = functions[index]
            if start <= vaddr < start + max(size, 1):
                return name
            index -= 1
            if index >= 0 and functions[index][0] != start:
                break
        return f"{os.path.basename(path)}+{vaddr:#x}"

    def chain(self, ips: list[int] | tuple[int, ...], *, first_exact: bool = True) -> list[str]:
        """Names of a leaf-first chain; return addresses are looked up at ip - 1."""
        return [self.name(ip if (i == 0 and first_exact) else ip - 1) for i, ip in enumerate(ips)]
