"""The units of .debug_info: their headers, their top DIE, and what attribute values point to.

Each compile unit says where its code is (low_pc/high_pc or DW_AT_ranges on its top DIE),
where its line program is (DW_AT_stmt_list), and the bases its indexed forms are relative
to (DWARF 5: str_offsets_base, addr_base, rnglists_base).  Reading only these top DIEs
lets the resolver find the unit of an address without walking the DIEs of any other unit.

Layout facts: unit headers DWARF 5 section 7.5.1; range lists 2.17.3 and 7.25 (v5
.debug_rnglists) / 7.23 in DWARF 4 (.debug_ranges); string offsets 7.26; address table 7.27.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

import attrs

from stax_symbols.dwarf_forms import (
    AT_ADDR_BASE,
    AT_COMP_DIR,
    AT_HIGH_PC,
    AT_LOW_PC,
    AT_NAME,
    AT_RANGES,
    AT_RNGLISTS_BASE,
    AT_STMT_LIST,
    AT_STR_OFFSETS_BASE,
    CONSTANT_FORMS,
    FORM_ADDR,
    FORM_ADDRX,
    FORM_LINE_STRP,
    FORM_RNGLISTX,
    FORM_STRING,
    FORM_STRP,
    INDEXED_ADDRESS_FORMS,
    INDEXED_STRING_FORMS,
    TAG_COMPILE_UNIT,
    TAG_PARTIAL_UNIT,
    Abbrev,
    DwarfError,
    Encoding,
    read_abbrev_table,
    read_attributes,
    read_uleb,
)
from stax_symbols.dwarf_sections import DwarfSections

# Unit types (7.5.1): only these hold code we can name without another file.
_UT_COMPILE = 0x01
_UT_PARTIAL = 0x03
# DW_RLE_* range list entry kinds (7.25).
_RLE_END_OF_LIST = 0
_RLE_BASE_ADDRESSX = 1
_RLE_STARTX_ENDX = 2
_RLE_STARTX_LENGTH = 3
_RLE_OFFSET_PAIR = 4
_RLE_BASE_ADDRESS = 5
_RLE_START_END = 6
_RLE_START_LENGTH = 7


@attrs.define(slots=True)
class Unit:
    """One compile (or partial) unit: header facts, top-DIE facts, and its abbreviations."""

    offset: int
    """Where the unit header starts in .debug_info (DIE references are relative to this)."""
    first_die: int
    end: int
    enc: Encoding
    abbrevs: dict[int, Abbrev]
    name: str | None = None
    comp_dir: str | None = None
    stmt_list: int | None = None
    base_address: int = 0
    str_offsets_base: int | None = None
    addr_base: int | None = None
    rnglists_base: int | None = None
    ranges: list[tuple[int, int]] = attrs.field(factory=list)


class DwarfUnits:
    """The units of one file and the lookups attribute values need (strings, addresses, ranges)."""

    def __init__(self, sections: DwarfSections) -> None:
        self.sections = sections
        self.units: list[Unit] = list(self._read_units())
        self._unit_starts = [u.offset for u in self.units]

    # -- units ---------------------------------------------------------------------------

    def _read_units(self) -> Iterator[Unit]:
        info = self.sections.info
        order = "little" if self.sections.little_endian else "big"
        pos = 0
        while pos + 11 <= len(info):
            offset = pos
            length = int.from_bytes(info[pos : pos + 4], order)
            offset_size = 4
            pos += 4
            if length == 0xFFFFFFFF:
                length = int.from_bytes(info[pos : pos + 8], order)
                offset_size = 8
                pos += 8
            elif length >= 0xFFFFFFF0:
                raise DwarfError(f"reserved unit length {length:#x} at .debug_info+{offset:#x}")
            end = pos + length
            if end > len(info) or length < 7:
                raise DwarfError(f"unit at .debug_info+{offset:#x} runs past the section")
            version = int.from_bytes(info[pos : pos + 2], order)
            pos += 2
            if version >= 5:
                unit_type = info[pos]
                address_size = info[pos + 1]
                abbrev_offset = int.from_bytes(info[pos + 2 : pos + 2 + offset_size], order)
                pos += 2 + offset_size
                if unit_type not in (_UT_COMPILE, _UT_PARTIAL):
                    pos = end  # type units and split-DWARF skeletons hold no code of their own
                    continue
            elif version >= 2:
                abbrev_offset = int.from_bytes(info[pos : pos + offset_size], order)
                address_size = info[pos + offset_size]
                pos += offset_size + 1
            else:
                raise DwarfError(f"unsupported DWARF version {version} at .debug_info+{offset:#x}")
            enc = Encoding(offset_size, address_size, version, self.sections.little_endian)
            unit = Unit(offset, pos, end, enc, read_abbrev_table(self.sections.abbrev, abbrev_offset, enc))
            self._read_top_die(unit)
            yield unit
            pos = end

    def _read_top_die(self, unit: Unit) -> None:
        info = self.sections.info
        code, pos = read_uleb(info, unit.first_die)
        abbrev = unit.abbrevs.get(code)
        if abbrev is None or abbrev.tag not in (TAG_COMPILE_UNIT, TAG_PARTIAL_UNIT):
            return
        values, _ = read_attributes(abbrev, info, pos, unit.enc)
        # The bases first: the other attributes of this very DIE may be indexed forms.
        for attr, field in ((AT_STR_OFFSETS_BASE, "str_offsets_base"), (AT_ADDR_BASE, "addr_base"),
                            (AT_RNGLISTS_BASE, "rnglists_base")):
            if attr in values:
                setattr(unit, field, values[attr][1])
        if AT_NAME in values:
            unit.name = self.string(unit, *values[AT_NAME])
        if AT_COMP_DIR in values:
            unit.comp_dir = self.string(unit, *values[AT_COMP_DIR])
        if AT_STMT_LIST in values:
            unit.stmt_list = values[AT_STMT_LIST][1]  # type: ignore[assignment]
        if AT_LOW_PC in values:
            unit.base_address = self.address(unit, *values[AT_LOW_PC]) or 0
        unit.ranges = self.die_ranges(unit, values)

    def unit_at(self, die_offset: int) -> Unit | None:
        """The unit holding the DIE at ``die_offset`` in .debug_info."""
        index = bisect.bisect_right(self._unit_starts, die_offset) - 1
        if index < 0:
            return None
        unit = self.units[index]
        return unit if die_offset < unit.end else None

    # -- attribute values ------------------------------------------------------------------

    def string(self, unit: Unit, form: int, value: object) -> str | None:
        """A string attribute; None for forms pointing into another file (dwz's .debug_str)."""
        if form == FORM_STRING:
            return value  # type: ignore[return-value]
        if form == FORM_STRP:
            return _cstring(self.sections.str, value)  # type: ignore[arg-type]
        if form == FORM_LINE_STRP:
            return _cstring(self.sections.line_str, value)  # type: ignore[arg-type]
        if form in INDEXED_STRING_FORMS:
            size = unit.enc.offset_size
            base = unit.str_offsets_base if unit.str_offsets_base is not None else 2 * size
            at = base + value * size  # type: ignore[operator]
            order = "little" if unit.enc.little_endian else "big"
            offset = int.from_bytes(self.sections.str_offsets[at : at + size], order)
            return _cstring(self.sections.str, offset)
        return None

    def address(self, unit: Unit, form: int, value: object) -> int | None:
        """An address attribute (DW_FORM_addr, or an index into .debug_addr)."""
        if form == FORM_ADDR:
            return value  # type: ignore[return-value]
        if form in INDEXED_ADDRESS_FORMS:
            size = unit.enc.address_size
            at = (unit.addr_base if unit.addr_base is not None else 8) + value * size  # type: ignore[operator]
            order = "little" if unit.enc.little_endian else "big"
            return int.from_bytes(self.sections.addr[at : at + size], order)
        return None

    def die_ranges(self, unit: Unit, values: dict[int, tuple[int, object]]) -> list[tuple[int, int]]:
        """The code ranges [start, end) a DIE covers: low_pc/high_pc, or DW_AT_ranges."""
        if AT_LOW_PC in values and AT_HIGH_PC in values:
            low = self.address(unit, *values[AT_LOW_PC])
            high_form, high = values[AT_HIGH_PC]
            if low is None:
                return []
            # DWARF 4+: a constant-class high_pc is the length (2.17.2).
            end = low + high if high_form in CONSTANT_FORMS else self.address(unit, high_form, high)  # type: ignore[operator]
            return [(low, end)] if end is not None and end > low else []
        if AT_RANGES in values:
            form, value = values[AT_RANGES]
            if unit.enc.version >= 5:
                return self._rnglist(unit, form, value)  # type: ignore[arg-type]
            return self._debug_ranges(unit, value)  # type: ignore[arg-type]
        return []

    def _debug_ranges(self, unit: Unit, offset: int) -> list[tuple[int, int]]:
        # DWARF 2-4 .debug_ranges: (begin, end) address pairs relative to the base address,
        # ended by (0, 0); a begin of all ones sets a new base (DWARF 4, 2.17.3).
        data = self.sections.ranges
        size = unit.enc.address_size
        order = "little" if unit.enc.little_endian else "big"
        all_ones = (1 << (8 * size)) - 1
        base = unit.base_address
        out = []
        pos = offset
        while pos + 2 * size <= len(data):
            begin = int.from_bytes(data[pos : pos + size], order)
            end = int.from_bytes(data[pos + size : pos + 2 * size], order)
            pos += 2 * size
            if begin == 0 and end == 0:
                break
            if begin == all_ones:
                base = end
                continue
            if end > begin:
                out.append((base + begin, base + end))
        return out

    def _rnglist(self, unit: Unit, form: int, value: int) -> list[tuple[int, int]]:
        data = self.sections.rnglists
        order = "little" if unit.enc.little_endian else "big"
        if form == FORM_RNGLISTX:
            size = unit.enc.offset_size
            base = unit.rnglists_base if unit.rnglists_base is not None else 12
            at = base + value * size
            pos = base + int.from_bytes(data[at : at + size], order)
        else:
            pos = value
        asize = unit.enc.address_size
        base_address = unit.base_address
        out = []
        while pos < len(data):
            kind = data[pos]
            pos += 1
            if kind == _RLE_END_OF_LIST:
                break
            if kind == _RLE_OFFSET_PAIR:
                start, pos = read_uleb(data, pos)
                end, pos = read_uleb(data, pos)
                start, end = base_address + start, base_address + end
            elif kind == _RLE_BASE_ADDRESS:
                base_address = int.from_bytes(data[pos : pos + asize], order)
                pos += asize
                continue
            elif kind == _RLE_START_END:
                start = int.from_bytes(data[pos : pos + asize], order)
                end = int.from_bytes(data[pos + asize : pos + 2 * asize], order)
                pos += 2 * asize
            elif kind == _RLE_START_LENGTH:
                start = int.from_bytes(data[pos : pos + asize], order)
                length, pos = read_uleb(data, pos + asize)
                end = start + length
            elif kind == _RLE_BASE_ADDRESSX:
                index, pos = read_uleb(data, pos)
                base_address = self.address(unit, FORM_ADDRX, index) or 0
                continue
            elif kind == _RLE_STARTX_ENDX:
                i, pos = read_uleb(data, pos)
                j, pos = read_uleb(data, pos)
                start, end = self.address(unit, FORM_ADDRX, i) or 0, self.address(unit, FORM_ADDRX, j) or 0
            elif kind == _RLE_STARTX_LENGTH:
                i, pos = read_uleb(data, pos)
                length, pos = read_uleb(data, pos)
                start = self.address(unit, FORM_ADDRX, i) or 0
                end = start + length
            else:
                raise DwarfError(f"unknown range list entry {kind:#x} in .debug_rnglists")
            if end > start:
                out.append((start, end))
        return out


def _cstring(data: bytes, offset: int) -> str | None:
    if offset >= len(data):
        return None
    end = data.find(b"\0", offset)
    return data[offset : end if end >= 0 else len(data)].decode("utf-8", "replace")
