"""Parse perf map files: ``/tmp/perf-PID.map``, the plain-text JIT symbol convention of perf.

A runtime that generates code appends one line per code object::

    START SIZE name

``START`` and ``SIZE`` are hexadecimal (usually without ``0x``; a prefix is accepted) and
the name runs to the end of the line and may contain spaces.  Writers include node/V8
(``--perf-basic-prof``), CPython 3.12+ (``-X perf`` / ``PYTHONPERFSUPPORT=1``), the JVM
via perf-map-agent, LuaJIT and .NET (``DOTNET_PerfMapEnabled``).  Entries are in write
order; a later entry for an address describes the code living there now (see
:mod:`stax_symbols.jit.perf_map_ranges`).
"""

from __future__ import annotations

from array import array
from pathlib import Path

import attrs

PERF_MAP_DIR = Path("/tmp")


def perf_map_path(pid: int, directory: Path = PERF_MAP_DIR) -> Path:
    """Where process ``pid`` writes its perf map (always ``/tmp/perf-PID.map``, by convention)."""
    return directory / f"perf-{pid}.map"


@attrs.frozen(slots=True)
class PerfMap:
    """The entries of one perf map, in file (write) order; ``skipped`` counts unreadable lines."""

    starts: array
    ends: array
    names: list[str]
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.names)


def parse_perf_map(text: str) -> PerfMap:
    """Parse perf map text; lines that are not ``START SIZE name`` with a non-empty range are skipped."""
    starts = array("Q")
    ends = array("Q")
    names: list[str] = []
    skipped = 0
    for line in text.splitlines():
        parts = line.split(maxsplit=2)
        if len(parts) < 3:
            if line.strip():
                skipped += 1
            continue
        try:
            start = int(parts[0], 16)
            size = int(parts[1], 16)
        except ValueError:
            skipped += 1
            continue
        end = start + size
        if size <= 0 or start < 0 or end > 0xFFFF_FFFF_FFFF_FFFF:
            skipped += 1
            continue
        starts.append(start)
        ends.append(end)
        names.append(parts[2].rstrip())
    return PerfMap(starts, ends, names, skipped)


def read_perf_map(path: Path) -> PerfMap:
    """Read and parse the perf map at ``path``; raises ``OSError`` if it cannot be read."""
    return parse_perf_map(path.read_text(encoding="utf-8", errors="replace"))
