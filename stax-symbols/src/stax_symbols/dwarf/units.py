"""The units of .debug_info: their headers, their top DIE, and what attribute values point to.

Each compile unit says where its code is (low_pc/high_pc or DW_AT_ranges on its top DIE),
where its line program is (DW_AT_stmt_list), and the bases its indexed forms are relative
to (DWARF 5: str_offsets_base, addr_base, rnglists_base).  Opening a file reads only the
unit headers (a length chain through the section); a unit's abbreviation table and top DIE
are read the first time the unit is needed, because reading them for all of libc's 4,000
units costs a second while a profile needs a handful.  Units often share one abbreviation
table (the same offset): it is read once.

Layout facts: unit headers DWARF 5 section 7.5.1; range lists 2.17.3 and 7.25 (v5
.debug_rnglists) / 7.23 in DWARF 4 (.debug_ranges); string offsets 7.26; address table 7.27.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterator

import attrs

from stax_binfmt.leb128 import read_uleb128
from stax_symbols.dwarf.forms import (
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
    read_abbrev,
    read_abbrev_table,
    read_attributes,
)
from stax_symbols.dwarf.sections import DwarfSections

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
    """One compile (or partial) unit: header facts, then top-DIE facts and abbreviations.

    Units from :attr:`DwarfUnits.units` carry only the header facts until
    :meth:`DwarfUnits.ready` (or :meth:`DwarfUnits.unit` / :meth:`DwarfUnits.unit_at`) has
    read the rest; ``is_ready`` says which.
    """

    offset: int
    """Where the unit header starts in .debug_info (DIE references are relative to this)."""
    first_die: int
    end: int
    enc: Encoding
    abbrev_offset: int
    abbrevs: dict[int, Abbrev] = attrs.field(factory=dict)
    is_ready: bool = False
    top_read: bool = False
    """The top-DIE facts below are filled in (also true of a ready unit)."""
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
        self.units: list[Unit] = list(self._read_headers())
        """Every compile and partial unit, in section order; header facts only until readied."""
        self._unit_starts = [u.offset for u in self.units]
        self._abbrev_tables: dict[tuple[int, Encoding], dict[int, Abbrev]] = {}
        self.units_ready = 0
        """How many units had their abbreviations and top DIE read (tests read it)."""

    # -- units ---------------------------------------------------------------------------

    def unit(self, index: int) -> Unit:
        """Unit number ``index``, ready (raises DwarfError, IndexError... on damage)."""
        return self.ready(self.units[index])

    def ready(self, unit: Unit) -> Unit:
        """Read the abbreviations and top DIE of ``unit`` if not yet done; returns it."""
        if not unit.is_ready:
            key = (unit.abbrev_offset, unit.enc)
            abbrevs = self._abbrev_tables.get(key)
            if abbrevs is None:
                abbrevs = self._abbrev_tables[key] = read_abbrev_table(
                    self.sections.abbrev, unit.abbrev_offset, unit.enc)
            unit.abbrevs = abbrevs
            if not unit.top_read:
                code, pos = read_uleb128(self.sections.info, unit.first_die)
                self._read_top_die(unit, abbrevs.get(code), pos)
            unit.is_ready = True
            self.units_ready += 1
        return unit

    def code_ranges(self, unit: Unit) -> list[tuple[int, int]]:
        """The code ranges of ``unit`` from its top DIE, reading only that DIE's abbreviation.

        For finding units without .debug_aranges: one declaration per unit instead of whole
        tables makes reading every unit's top DIE several times cheaper.
        """
        if not unit.top_read:
            code, pos = read_uleb128(self.sections.info, unit.first_die)
            table = self._abbrev_tables.get((unit.abbrev_offset, unit.enc))
            abbrev = table.get(code) if table is not None else \
                read_abbrev(self.sections.abbrev, unit.abbrev_offset, code, unit.enc)
            self._read_top_die(unit, abbrev, pos)
        return unit.ranges

    def index_at(self, unit_offset: int) -> int | None:
        """The index of the unit whose header starts at ``unit_offset``, or None."""
        index = bisect.bisect_left(self._unit_starts, unit_offset)
        if index < len(self._unit_starts) and self._unit_starts[index] == unit_offset:
            return index
        return None

    def _read_headers(self) -> Iterator[Unit]:
        """Walk the chain of unit lengths, reading each header (7.5.1.1) and nothing else."""
        info = self.sections.info
        little = self.sections.little_endian
        order = "<" if little else ">"
        length_version = struct.Struct(order + "IH")
        wide = struct.Struct(order + "QH")
        # After the version: v5 unit_type, address_size, debug_abbrev_offset; v2-4 the offset first.
        v5_rest = {4: struct.Struct(order + "BBI"), 8: struct.Struct(order + "BBQ")}
        v4_rest = {4: struct.Struct(order + "IB"), 8: struct.Struct(order + "QB")}
        encodings: dict[tuple[int, int, int], Encoding] = {}
        size = len(info)
        pos = 0
        while pos + 11 <= size:
            offset = pos
            length, version = length_version.unpack_from(info, pos)
            offset_size = 4
            pos += 4
            if length == 0xFFFFFFFF:
                if pos + 10 > size:
                    raise DwarfError(f"unit at .debug_info+{offset:#x} runs past the section")
                length, version = wide.unpack_from(info, pos)
                offset_size = 8
                pos += 8
            elif length >= 0xFFFFFFF0:
                raise DwarfError(f"reserved unit length {length:#x} at .debug_info+{offset:#x}")
            end = pos + length
            if end > size or length < 3 + offset_size:
                raise DwarfError(f"unit at .debug_info+{offset:#x} runs past the section")
            pos += 2
            if version >= 5:
                unit_type, address_size, abbrev_offset = v5_rest[offset_size].unpack_from(info, pos)
                pos += 2 + offset_size
                if unit_type not in (_UT_COMPILE, _UT_PARTIAL):
                    pos = end  # type units and split-DWARF skeletons hold no code of their own
                    continue
            elif version >= 2:
                abbrev_offset, address_size = v4_rest[offset_size].unpack_from(info, pos)
                pos += offset_size + 1
            else:
                raise DwarfError(f"unsupported DWARF version {version} at .debug_info+{offset:#x}")
            key = (offset_size, address_size, version)
            enc = encodings.get(key)
            if enc is None:
                enc = encodings[key] = Encoding(offset_size, address_size, version, little)
            yield Unit(offset, pos, end, enc, abbrev_offset)
            pos = end

    def _read_top_die(self, unit: Unit, abbrev: Abbrev | None, pos: int) -> None:
        """Fill the top-DIE facts of ``unit``; ``pos`` is where the DIE's attributes start."""
        if abbrev is None or abbrev.tag not in (TAG_COMPILE_UNIT, TAG_PARTIAL_UNIT):
            unit.top_read = True
            return
        values, _ = read_attributes(abbrev, self.sections.info, pos, unit.enc)
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
        unit.top_read = True

    def unit_at(self, die_offset: int) -> Unit | None:
        """The unit holding the DIE at ``die_offset`` in .debug_info, ready."""
        index = bisect.bisect_right(self._unit_starts, die_offset) - 1
        if index < 0:
            return None
        unit = self.units[index]
        return self.ready(unit) if die_offset < unit.end else None

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
                start, pos = read_uleb128(data, pos)
                end, pos = read_uleb128(data, pos)
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
                length, pos = read_uleb128(data, pos + asize)
                end = start + length
            elif kind == _RLE_BASE_ADDRESSX:
                index, pos = read_uleb128(data, pos)
                base_address = self.address(unit, FORM_ADDRX, index) or 0
                continue
            elif kind == _RLE_STARTX_ENDX:
                i, pos = read_uleb128(data, pos)
                j, pos = read_uleb128(data, pos)
                start, end = self.address(unit, FORM_ADDRX, i) or 0, self.address(unit, FORM_ADDRX, j) or 0
            elif kind == _RLE_STARTX_LENGTH:
                i, pos = read_uleb128(data, pos)
                length, pos = read_uleb128(data, pos)
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
