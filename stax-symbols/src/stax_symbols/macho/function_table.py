"""A Mach-O image's functions as a :class:`SymbolTable`: ``nlist_64`` entries bounded by
``LC_FUNCTION_STARTS``.

Which entries count (``<mach-o/nlist.h>``): defined in a section (``N_SECT``), not a debugger
stab (``N_STAB`` bits clear), in a section that holds instructions.  The C ABI puts ``_`` in
front of every C name; one leading underscore is removed, so ``_main`` reads ``main`` as in
the source, in DWARF and in ``llvm-symbolizer``.

Mach-O symbols have no size.  ``LC_FUNCTION_STARTS`` (ULEB128 deltas from the start of
``__TEXT``, 0-terminated) lists where *every* function begins, including local ones a
``strip`` removed, so a symbol ends at the next function start or symbol, whichever comes
first, and never past its section: an address in a stripped local function stays unnamed
instead of being called after the exported function before it (the same rule as the ELF
policy, see :mod:`stax_symbols.elf_symbol_table`).

Aliases at one address: external before local, fewer leading underscores, shorter, then
alphabetical, so the choice is stable.  The dyld shared cache keeps a dylib's local symbols
in a separate table; they arrive here as extra (entries, strings) pairs.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterable, Sequence

from macholib import mach_o

from stax_symbols.dwarf_forms import read_uleb
from stax_symbols.macho.load_commands import Section
from stax_symbols.symbol_table import SymbolTable

NLIST_64 = struct.Struct("<IBBHQ")
"""n_strx, n_type, n_sect, n_desc, n_value."""


def function_starts(data: bytes, text_vmaddr: int) -> list[int]:
    """Decode ``LC_FUNCTION_STARTS`` data into addresses (a damaged tail is ignored)."""
    out = []
    address = text_vmaddr
    pos = 0
    try:
        while pos < len(data):
            delta, pos = read_uleb(data, pos)
            if delta == 0:
                break
            address += delta
            out.append(address)
    except IndexError:
        pass
    return out


def function_table(
    sections: Sequence[Section],
    symbol_tables: Iterable[tuple[bytes, bytes]],
    starts: Sequence[int] = (),
) -> SymbolTable:
    """The functions named by the nlist ``(entries, strings)`` tables, bounded as above."""
    code = {index + 1: s for index, s in enumerate(sections) if s.has_instructions}
    candidates: dict[int, list[tuple[tuple[int, int, int, str], int]]] = {}
    for entries, strings in symbol_tables:
        usable = len(entries) - len(entries) % NLIST_64.size
        for strx, n_type, n_sect, _desc, value in NLIST_64.iter_unpack(memoryview(entries)[:usable]):
            if n_type & mach_o.N_STAB or (n_type & mach_o.N_TYPE) != mach_o.N_SECT or n_sect not in code:
                continue
            name = _name_at(strings, strx)
            if not name:
                continue
            if name.startswith("_"):
                name = name[1:]
            rank = (0 if n_type & mach_o.N_EXT else 1, len(name) - len(name.lstrip("_")), len(name), name)
            candidates.setdefault(value, []).append((rank, n_sect))
    boundaries = sorted(set(candidates) | set(starts))
    rows = []
    for start, choices in candidates.items():
        (_, _, _, name), n_sect = min(choices)
        section = code[n_sect]
        end = section.address + section.size
        after = bisect.bisect_right(boundaries, start)
        if after < len(boundaries):
            end = min(end, boundaries[after])
        rows.append((start, end, name))
    return SymbolTable(rows)


def _name_at(strings: bytes, offset: int) -> str:
    if offset <= 0 or offset >= len(strings):
        return ""
    end = strings.find(b"\0", offset)
    return strings[offset : end if end >= 0 else len(strings)].decode("utf-8", "replace")
