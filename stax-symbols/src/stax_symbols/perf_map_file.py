"""Parse perf map files: ``/tmp/perf-PID.map``, the plain-text JIT symbol convention of perf.

A runtime that generates code appends one line per code object::

    START SIZE name

``START`` and ``SIZE`` are hexadecimal (usually without ``0x``; a prefix is accepted) and
the name runs to the end of the line and may contain spaces.  Writers include node/V8
(``--perf-basic-prof``), CPython 3.12+ (``-X perf`` / ``PYTHONPERFSUPPORT=1``), the JVM
via perf-map-agent, LuaJIT and .NET (``DOTNET_PerfMapEnabled``).  Entries are in write
order; a later entry for an address describes the code living there now (see
:mod:`stax_symbols.perf_map_ranges`).

``/tmp`` is everyone's, and stax often reads as root, so the file is read only as
:func:`stax.trusted_files.open_owned_file` allows (a regular file, no link, owned by the
process's user or root) and only its first :data:`MAX_PERF_MAP_BYTES`; entries whose
range no code could occupy are skipped (:func:`~stax_symbols.perf_map_ranges.plausible_range`),
and control characters in names are written as ``\\xHH`` (:func:`stax.text_safety.printable`).
"""

from __future__ import annotations

from array import array
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import attrs

from stax.text_safety import printable
from stax.trusted_files import open_owned_file
from stax_symbols.perf_map_ranges import plausible_range

PERF_MAP_DIR = Path("/tmp")
MAX_PERF_MAP_BYTES = 256 << 20
"""Read at most 256 MiB of a perf map (about 2.5 million entries); a larger file is skipped."""


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
    """Parse perf map text; lines that are not ``START SIZE name`` with a plausible range are skipped."""
    return parse_perf_map_lines(text.split("\n"))


def parse_perf_map_lines(lines: Iterable[str]) -> PerfMap:
    """Parse perf map lines (one entry each, end of line optional)."""
    starts = array("Q")
    ends = array("Q")
    names: list[str] = []
    skipped = 0
    for line in lines:
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
        if not plausible_range(start, size):
            skipped += 1
            continue
        starts.append(start)
        ends.append(start + size)
        names.append(printable(parts[2].rstrip()))
    return PerfMap(starts, ends, names, skipped)


def read_perf_map(path: Path, owners: Collection[int], max_bytes: int = MAX_PERF_MAP_BYTES) -> PerfMap:
    """Read and parse the perf map at ``path`` if it is a regular file of one of ``owners``.

    Raises :class:`stax.trusted_files.UntrustedFile` (a FIFO, a link, another user's file,
    too large) or ``OSError`` (e.g. FileNotFoundError).
    """
    with open_owned_file(path, owners, max_bytes) as f:
        return parse_perf_map_lines(_lines(f, max_bytes))


def _lines(f: BinaryIO, limit: int) -> Iterator[str]:
    """The file's lines, decoded, up to ``limit`` bytes in all (the owner may still be appending)."""
    left = limit
    while left > 0:
        raw = f.readline(left)
        if not raw:
            return
        left -= len(raw)
        yield raw.decode("utf-8", "replace")
