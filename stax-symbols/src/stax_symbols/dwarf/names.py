"""The name of a function DIE, following DW_AT_abstract_origin and DW_AT_specification.

A concrete out-of-line copy, a clone (``foo.part.0``) or an inlined call names its
function only through DW_AT_abstract_origin; a C++ definition names it through
DW_AT_specification pointing at the declaration in its class (DWARF 5, 3.3.8 and 2.13.2).
The linkage (mangled) name is preferred anywhere along that chain, as in ELF symbol tables,
so DWARF and symbol-table names of one function agree; plain DW_AT_name otherwise.
"""

from __future__ import annotations

from stax_binfmt.leb128 import read_uleb128
from stax_symbols.dwarf.forms import (
    AT_ABSTRACT_ORIGIN,
    AT_LINKAGE_NAME,
    AT_MIPS_LINKAGE_NAME,
    AT_NAME,
    AT_SPECIFICATION,
    CU_REF_FORMS,
    FORM_REF_ADDR,
    DwarfError,
    read_attributes,
)
from stax_symbols.dwarf.units import DwarfUnits

_MAX_HOPS = 8
"""Chains are one or two hops in practice; a bound keeps a looping (corrupt) chain finite."""


class DieNames:
    """DIE offset in .debug_info -> function name, memoized."""

    def __init__(self, units: DwarfUnits) -> None:
        self._units = units
        self._memo: dict[int, str | None] = {}

    def name_of(self, die_offset: int) -> str | None:
        """The linkage name, else the name, of the DIE at ``die_offset`` or what it refers to."""
        if die_offset in self._memo:
            return self._memo[die_offset]
        plain: str | None = None
        offset: int | None = die_offset
        linkage: str | None = None
        for _ in range(_MAX_HOPS):
            if offset is None:
                break
            linkage, name, offset = self._read(offset)
            if linkage:
                break
            if plain is None:
                plain = name
        result = linkage or plain
        self._memo[die_offset] = result
        return result

    def _read(self, die_offset: int) -> tuple[str | None, str | None, int | None]:
        """(linkage name, name, next DIE to follow) of one DIE."""
        units = self._units
        info = units.sections.info
        try:
            unit = units.unit_at(die_offset)
            if unit is None:
                return None, None, None
            code, pos = read_uleb128(info, die_offset)
            abbrev = unit.abbrevs.get(code)
            if abbrev is None:
                return None, None, None
            values, _ = read_attributes(abbrev, info, pos, unit.enc)
        except (DwarfError, IndexError, ValueError, KeyError):
            return None, None, None  # a damaged DIE: the caller falls back to the symbol table
        linkage = None
        for attr in (AT_LINKAGE_NAME, AT_MIPS_LINKAGE_NAME):
            if attr in values:
                linkage = units.string(unit, *values[attr])
                if linkage:
                    break
        name = units.string(unit, *values[AT_NAME]) if AT_NAME in values else None
        follow = None
        for attr in (AT_ABSTRACT_ORIGIN, AT_SPECIFICATION):
            if attr in values:
                form, value = values[attr]
                if form in CU_REF_FORMS:
                    follow = unit.offset + value  # type: ignore[operator]
                elif form == FORM_REF_ADDR:
                    follow = value  # type: ignore[assignment]
                break  # other forms point into another file (dwz): not followed
        return linkage, name, follow
