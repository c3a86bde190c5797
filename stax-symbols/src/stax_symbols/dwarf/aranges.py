"""Which unit holds an address, from .debug_aranges: one linear read of a compact table.

.debug_aranges (DWARF 5, section 6.1.2) is a lookup table made for exactly this: one set
per compile unit, a header naming the unit's offset in .debug_info, then (address, length)
tuples of the code the unit covers.  Reading it costs a few milliseconds for libc's 4,000
units, where learning the same from each unit's top DIE means reading every unit's
abbreviation table first (a second per file).  Set layout: section 7.21.
"""

from __future__ import annotations

import bisect
import struct
from array import array
from collections.abc import Iterable

import attrs

from stax_symbols.dwarf.forms import DwarfError

_ARANGES_VERSION = 2
"""The only version of the set header (DWARF 2 to 5, 7.21)."""
_UNSIGNED = {1: "B", 2: "H", 4: "I", 8: "Q"}
"""struct codes of the address and segment selector sizes a set may declare."""
_MAX_LOOKBACK = 4
"""Rows looked at before the one found by bisect, for a range enclosing later ones."""


class AddressRanges:
    """Sorted code ranges [start, end), each owned by one value (a unit index); bisect lookup.

    Units' ranges are disjoint in a linked file; a few steps back from the bisect cover the
    odd range that encloses a later one.
    """

    __slots__ = ("_starts", "_ends", "_owners")

    def __init__(self, rows: Iterable[tuple[int, int, int]]) -> None:
        ordered = sorted(rows)
        self._starts = array("Q", (r[0] for r in ordered))
        self._ends = array("Q", (r[1] for r in ordered))
        self._owners = array("q", (r[2] for r in ordered))

    def __len__(self) -> int:
        return len(self._starts)

    def find(self, address: int) -> int | None:
        """The owner of the range holding ``address``, or None."""
        index = bisect.bisect_right(self._starts, address) - 1
        for i in range(index, max(index - _MAX_LOOKBACK, -1), -1):
            if address < self._ends[i]:
                return self._owners[i]
        return None


@attrs.frozen(slots=True)
class Aranges:
    """The contents of .debug_aranges: code ranges by unit, and which units have a set."""

    rows: list[tuple[int, int, int]]
    """(start, end, unit offset in .debug_info), empty ranges left out."""
    units: frozenset[int]
    """Offsets of the units that have a set, with or without code: the table speaks for them."""


def read_aranges(data: bytes, little_endian: bool = True) -> Aranges:
    """Read every address range set of a .debug_aranges section.

    Empty ranges (the terminating tuple, padding) are left out.  Raises :class:`DwarfError`
    on a set that runs past the section or has an unknown version or address size.
    """
    order = "<" if little_endian else ">"
    # Set header (7.21): unit_length, version, debug_info_offset, address_size,
    # segment_selector_size; 64-bit DWARF has 0xffffffff then an 8-byte length and offset.
    header32 = struct.Struct(order + "IHIBB")
    header64 = struct.Struct(order + "QHQBB")
    tuple_readers: dict[tuple[int, int], struct.Struct] = {}
    rows: list[tuple[int, int, int]] = []
    units: set[int] = set()
    pos = 0
    size = len(data)
    while pos + header32.size <= size:
        set_start = pos
        length, version, unit_offset, address_size, segment_size = header32.unpack_from(data, pos)
        pos += header32.size
        end = set_start + 4 + length
        if length == 0xFFFFFFFF:
            if set_start + 4 + header64.size > size:
                raise DwarfError(f"address range set at .debug_aranges+{set_start:#x} runs past the section")
            pos = set_start + 4
            length, version, unit_offset, address_size, segment_size = header64.unpack_from(data, pos)
            pos += header64.size
            end = set_start + 12 + length
        elif length >= 0xFFFFFFF0:
            raise DwarfError(f"reserved length {length:#x} at .debug_aranges+{set_start:#x}")
        if end > size or end < pos:
            raise DwarfError(f"address range set at .debug_aranges+{set_start:#x} runs past the section")
        if version != _ARANGES_VERSION:
            raise DwarfError(f"address range set version {version} at .debug_aranges+{set_start:#x}")
        reader = tuple_readers.get((segment_size, address_size))
        if reader is None:
            if address_size not in _UNSIGNED or (segment_size and segment_size not in _UNSIGNED):
                raise DwarfError(f"address size {address_size} in .debug_aranges+{set_start:#x}")
            reader = tuple_readers[segment_size, address_size] = struct.Struct(
                order + _UNSIGNED.get(segment_size, "") + 2 * _UNSIGNED[address_size])
        # Tuples (segment selector, address, length) start at a multiple of their own size,
        # counted from the start of the set (7.21).
        tuple_size = reader.size
        pos = set_start + -(-(pos - set_start) // tuple_size) * tuple_size
        stop = pos + max(0, (end - pos) // tuple_size) * tuple_size
        for fields in reader.iter_unpack(data[pos:stop]):
            span = fields[-1]
            if span:
                start = fields[-2]
                rows.append((start, start + span, unit_offset))
        units.add(unit_offset)
        pos = end
    return Aranges(rows, frozenset(units))
