"""/proc/kallsyms: the kernel's symbols for this boot, parsed once per reader.

Each line is ``ADDRESS TYPE NAME`` with ``\\t[MODULE]`` after the name for a module's
symbol; addresses are the randomised ones of this boot (KASLR included), so kernel
frames need no relocation.  With kernel.kptr_restrict hiding them (or without
CAP_SYSLOG at kptr_restrict 1) every address reads as zero.

kallsyms has no symbol sizes: a text symbol reaches to the next symbol of any type, and
never more than :data:`MAX_FUNCTION_SIZE` (an address beyond is not in any function we
know, e.g. past the last symbol of a module).  Module symbols are named
``name [module]`` so a driver's frames say whose they are.  The kernel's own build id is
the GNU note in /sys/kernel/notes.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import attrs

from stax_binfmt.elf import build_id_from_notes

KALLSYMS_PATH = Path("/proc/kallsyms")
KERNEL_NOTES_PATH = Path("/sys/kernel/notes")

MAX_FUNCTION_SIZE = 1 << 20
"""No kernel function is a megabyte long; a larger distance means no known symbol."""

# kallsyms type letters (nm(1)): T/t text, W/w weak (text in the kernel's case).
TEXT_TYPES = frozenset("TtWw")
_TYPE_RANK = {"T": 0, "W": 1, "t": 2, "w": 3}
# "ffffffff821f94a0 T schedule" or, for a module, "ffffffffc0201000 t name\t[module]".
_LINE = re.compile(r"^([0-9a-fA-F]+) (\S) (\S+)(?:\t(\S+))?", re.MULTILINE)


@attrs.frozen(slots=True)
class KernelFunctions:
    """The text symbols of kallsyms as parallel lists sorted by unique start: ``[start, end)``
    and name (``name [module]`` for a module's)."""

    starts: list[int]
    ends: list[int]
    names: list[str]


def parse_kallsyms(text: str) -> KernelFunctions | None:
    """The kernel's functions from kallsyms text; None when every address reads as 0 (hidden).

    Written as whole-list passes rather than one loop doing everything: 120k lines must
    parse in well under a second of pure Python.
    """
    lines = [line for line in text.splitlines() if line.count(" ") >= 2]
    if not lines:
        return None
    width = lines[0].index(" ")  # addresses are fixed-width hex: 16 digits on 64-bit
    try:
        addresses = [int(line[:width], 16) for line in lines]
    except ValueError:
        lines = [line for line in lines if _LINE.match(line)]
        addresses = [int(line.split(" ", 1)[0], 16) for line in lines]
        width = -1
    if not any(addresses):
        return None
    order = sorted(range(len(lines)), key=addresses.__getitem__)
    starts = [addresses[k] for k in order]
    ordered = [lines[k] for k in order]
    # Aliases share an address: keep the preferred one of each group (few hundred groups).
    keep = [True] * len(starts)
    position = 1
    while position < len(starts):
        if starts[position] != starts[position - 1]:
            position += 1
            continue
        first = position - 1
        while position < len(starts) and starts[position] == starts[first]:
            position += 1
        best = min(range(first, position), key=lambda p: _alias_rank(ordered[p]))
        for p in range(first, position):
            keep[p] = p == best
    if not all(keep):
        starts = [a for a, k in zip(starts, keep, strict=True) if k]
        ordered = [line for line, k in zip(ordered, keep, strict=True) if k]
    # Every symbol, text or not, ends the one before it; only text symbols are named.
    nexts = starts[1:]
    nexts.append(starts[-1] + MAX_FUNCTION_SIZE)
    text_positions = [p for p, line in enumerate(ordered) if _kind(line, width) in TEXT_TYPES]
    return KernelFunctions(
        [starts[p] for p in text_positions],
        [min(nexts[p], starts[p] + MAX_FUNCTION_SIZE) for p in text_positions],
        [_name(ordered[p], width) for p in text_positions],
    )


def _kind(line: str, width: int) -> str:
    return line[width + 1] if width >= 0 else line.split()[1]


def _name(line: str, width: int) -> str:
    """``name``, or ``name [module]`` for a module symbol (kallsyms separates them by a tab)."""
    name = line[width + 3 :] if width >= 0 else line.split(" ", 2)[2]
    return name.replace("\t", " ") if "\t" in name else name


def _alias_rank(line: str) -> tuple[int, int, int, int, str]:
    """Aliases at one address: text first, then T, W, t, w, fewer leading underscores, shorter."""
    _, kind, name = line.split(None, 2)
    return (
        0 if kind in TEXT_TYPES else 1,
        _TYPE_RANK.get(kind, 4),
        len(name) - len(name.lstrip("_")),
        len(name),
        name,
    )


def kernel_addresses_visible(path: str | Path = KALLSYMS_PATH) -> bool:
    """Whether /proc/kallsyms shows real addresses to us (kptr_restrict shows zeros).

    Reads one line: the capture path needs only this answer; names come later, when the
    recording is symbolicated.
    """
    try:
        with open(path, "rb") as f:
            first = f.readline().split(b" ", 1)[0]
    except OSError:
        return False
    try:
        return int(first, 16) != 0
    except ValueError:
        return False


def kernel_build_id(notes: Path = KERNEL_NOTES_PATH) -> bytes | None:
    """The running kernel's build id (its GNU note), or None if it cannot be read."""
    try:
        return build_id_from_notes(notes.read_bytes(), 4, sys.byteorder == "little")
    except OSError:
        return None
