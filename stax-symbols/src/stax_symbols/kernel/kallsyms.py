"""The kallsyms source: names kernel frames from /proc/kallsyms of the running kernel.

Kernel frames carry absolute addresses (KASLR included), and /proc/kallsyms lists the
same randomised addresses for this boot, so no relocation is needed.  The file is read
once per process (it is ~5 MB; reading it costs ~150 ms) and kept as a sorted table.

kallsyms has no symbol sizes: a text symbol reaches to the next symbol of any type, and
never more than :data:`MAX_FUNCTION_SIZE` (an address beyond is not in any function we
know, e.g. past the last symbol of a module).  Module symbols are labelled
``name [module]`` so a driver's frames say whose they are.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind
from stax_symbols.elf.elf_file import build_id_from_notes
from stax_symbols.kernel import kallsyms_cache
from stax_symbols.symbol_table import SymbolTable

if TYPE_CHECKING:
    from stax.stack_table import Image

KALLSYMS_ORDER = 310
"""In the symbol-table band after ELF; a vmlinux with DWARF, when added, orders before it."""

MAX_FUNCTION_SIZE = 1 << 20
"""No kernel function is a megabyte long; a larger distance means no known symbol."""

KALLSYMS_PATH = Path("/proc/kallsyms")
KERNEL_NOTES_PATH = Path("/sys/kernel/notes")

# kallsyms type letters (nm(1)): T/t text, W/w weak (text in the kernel's case).
_TEXT_TYPES = frozenset("TtWw")
_TYPE_RANK = {"T": 0, "W": 1, "t": 2, "w": 3}
# "ffffffff821f94a0 T schedule" or, for a module, "ffffffffc0201000 t name\t[module]".
_LINE = re.compile(r"^([0-9a-fA-F]+) (\S) (\S+)(?:\t(\S+))?", re.MULTILINE)

KPTR_RESTRICT_SENTENCE = (
    "Kernel frames stay unresolved because /proc/kallsyms shows every address as 0"
    " (kernel.kptr_restrict); run stax as root or run `sudo sysctl kernel.kptr_restrict=0`."
)


@attrs.frozen(slots=True)
class KernelSymbols:
    """The parsed kallsyms of this boot: a table, or the sentence saying why there is none."""

    table: SymbolTable | None
    problem: str | None
    build_id: bytes | None


def parse_kallsyms(text: str) -> tuple[SymbolTable, bool]:
    """Build the kernel table from kallsyms text; the flag says every address read as 0.

    Written as whole-list passes rather than one loop doing everything: 120k lines must
    parse in well under a second of pure Python.
    """
    lines = [line for line in text.splitlines() if line.count(" ") >= 2]
    if not lines:
        return SymbolTable(()), True
    width = lines[0].index(" ")  # addresses are fixed-width hex: 16 digits on 64-bit
    try:
        addresses = [int(line[:width], 16) for line in lines]
    except ValueError:
        lines = [line for line in lines if _LINE.match(line)]
        addresses = [int(line.split(" ", 1)[0], 16) for line in lines]
        width = -1
    if not any(addresses):
        return SymbolTable(()), True
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
    text_positions = [p for p, line in enumerate(ordered) if _kind(line, width) in _TEXT_TYPES]
    table = SymbolTable.from_sorted(
        [starts[p] for p in text_positions],
        [min(nexts[p], starts[p] + MAX_FUNCTION_SIZE) for p in text_positions],
        [_name(ordered[p], width) for p in text_positions],
    )
    return table, False


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
        0 if kind in _TEXT_TYPES else 1,
        _TYPE_RANK.get(kind, 4),
        len(name) - len(name.lstrip("_")),
        len(name),
        name,
    )


def load_kernel_symbols(
    kallsyms: Path = KALLSYMS_PATH, notes: Path = KERNEL_NOTES_PATH
) -> KernelSymbols:
    """Read and parse kallsyms (and the kernel's build id); never raises."""
    build_id = None
    try:
        build_id = build_id_from_notes(notes.read_bytes(), 4, sys.byteorder == "little")
    except OSError:
        pass
    key = kallsyms_cache.boot_key(kallsyms) if kallsyms == KALLSYMS_PATH else None
    cached = kallsyms_cache.load(key) if key else None
    if cached is not None:
        return KernelSymbols(cached, None, build_id)
    try:
        text = kallsyms.read_text(errors="replace")
    except OSError as exc:
        return KernelSymbols(
            None,
            f"Kernel frames stay unresolved because {kallsyms} cannot be read"
            f" ({exc.strerror or exc}); run stax as root.",
            build_id,
        )
    table, all_zero = parse_kallsyms(text)
    if all_zero:
        return KernelSymbols(None, KPTR_RESTRICT_SENTENCE, build_id)
    if key:
        kallsyms_cache.store(key, table)
    return KernelSymbols(table, None, build_id)


class KallsymsSource:
    """Names ``ImageKind.KERNEL`` frames (absolute addresses) from /proc/kallsyms."""

    name = "kallsyms"
    order = KALLSYMS_ORDER

    def __init__(self, kallsyms: Path = KALLSYMS_PATH, notes: Path = KERNEL_NOTES_PATH) -> None:
        self._paths = (kallsyms, notes)
        self._symbols: KernelSymbols | None = None
        self._lock = threading.Lock()

    def kernel_symbols(self) -> KernelSymbols:
        """The table, read on first use and kept for the life of the process."""
        with self._lock:
            if self._symbols is None:
                self._symbols = load_kernel_symbols(*self._paths)
            return self._symbols

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        """Resolve absolute kernel addresses; warn once per pass if kallsyms is unusable."""
        if image.kind is not ImageKind.KERNEL or not offsets or sys.platform != "linux":
            return {}
        symbols = self.kernel_symbols()
        if symbols.table is None:
            if symbols.problem:
                context.warn(symbols.problem)
            return {}
        if image.build_id is not None and symbols.build_id is not None and image.build_id != symbols.build_id:
            context.warn(
                "Kernel frames stay unresolved because the running kernel is not the one recorded"
                f" (build id {image.build_id.hex()} recorded, {symbols.build_id.hex()} now);"
                " symbolicate on the machine and boot that recorded."
            )
            return {}
        lookup = symbols.table.lookup
        out: dict[int, Sequence[SymbolInfo]] = {}
        for address in offsets:
            hit = lookup(address)
            if hit is not None:
                out[address] = (SymbolInfo(function=hit[0], symbol_offset=hit[1]),)
        return out
