"""Address -> inline chain with file:line, from the DWARF of one file, parsing each unit once.

Opening a file reads only the unit headers and .debug_aranges (DWARF 5, 6.1.2), which says
which unit holds which addresses.  Units the table does not speak for (files without it,
units without a set) are found from their top DIE's ranges, read the first time an address
is not in the table.  The first address that falls in a unit walks that unit's DIEs
(:mod:`.dwarf_inlines`) and runs its line program (:mod:`.dwarf_lines`); both are kept, so
every later address of the unit is two bisects.  A profile touches a fraction of the units
of a large library, and those it does not touch cost nothing.
"""

from __future__ import annotations

import attrs

from stax.contracts import SymbolInfo
from stax_symbols.dwarf_aranges import AddressRanges, read_aranges
from stax_symbols.dwarf_forms import DwarfError
from stax_symbols.dwarf_inlines import NO_SCOPE, UnitScopes, read_unit_scopes
from stax_symbols.dwarf_lines import LineTable, read_line_table
from stax_symbols.dwarf_names import DieNames
from stax_symbols.dwarf_sections import DwarfSections
from stax_symbols.dwarf_units import DwarfUnits, Unit


@attrs.frozen(slots=True)
class DwarfLocation:
    """What DWARF says about one address.

    ``chain`` is innermost first, inlined calls then the real function, each with the file
    and line at which it is executing (the call site, for callers of inlined code); it is
    empty when no function DIE covers the address (assembly with line info only).
    """

    chain: tuple[SymbolInfo, ...]
    file: str | None
    line: int | None


class DwarfResolver:
    """The DWARF of one file, parsed lazily per unit.  Not thread-safe; one per file."""

    def __init__(self, sections: DwarfSections, label: str) -> None:
        self.label = label
        self.units = DwarfUnits(sections)
        self.names = DieNames(self.units)
        self.units_parsed = 0
        """How many units had their DIEs and lines parsed (tests and the bench read it)."""
        self.problems: list[str] = []
        """One sentence per unit that could not be read; the others still answer."""
        self._by_aranges, self._uncovered = self._read_aranges(sections)
        self._by_top_die: AddressRanges | None = None
        self._scopes: dict[int, UnitScopes | None] = {}
        self._lines: dict[int, LineTable | None] = {}

    def unit_index(self, address: int) -> int | None:
        """Which unit's code holds ``address`` (units' ranges are disjoint in linked files)."""
        found = self._by_aranges.find(address)
        if found is not None:
            return found
        if self._by_top_die is None:
            self._by_top_die = self._read_top_die_ranges()
        return self._by_top_die.find(address)

    def _read_aranges(self, sections: DwarfSections) -> tuple[AddressRanges, list[int]]:
        """Unit ranges from .debug_aranges, and the indexes of units it has no set for."""
        units = self.units
        covered: set[int] = set()
        rows: list[tuple[int, int, int]] = []
        if sections.aranges:
            try:
                aranges = read_aranges(sections.aranges, sections.little_endian)
            except (DwarfError, IndexError, ValueError):
                aranges = None  # the top DIEs still say it all, only slower
            if aranges is not None:
                index_of = {offset: units.index_at(offset) for offset in aranges.units}
                covered = {i for i in index_of.values() if i is not None}
                rows = [(start, end, index) for start, end, offset in aranges.rows
                        if (index := index_of[offset]) is not None]
        uncovered = [i for i in range(len(units.units)) if i not in covered]
        return AddressRanges(rows), uncovered

    def _read_top_die_ranges(self) -> AddressRanges:
        """Ranges of the units .debug_aranges leaves out, from their top DIEs (read once)."""
        rows = []
        for index in self._uncovered:
            unit = self.units.units[index]
            try:
                ranges = self.units.code_ranges(unit)
            except (DwarfError, IndexError, ValueError, KeyError) as exc:
                self._damaged(unit, exc)
                continue
            rows.extend((start, end, index) for start, end in ranges)
        return AddressRanges(rows)

    def _damaged(self, unit: Unit, exc: Exception) -> None:
        self.problems.append(
            f"Part of the debug info of {self.label} is damaged (unit at .debug_info+{unit.offset:#x}:"
            f" {exc}); functions there are named from the symbol table without inlines."
        )

    def locate(self, address: int) -> DwarfLocation | None:
        """The chain and line for ELF virtual address ``address``, or None outside all units."""
        unit_index = self.unit_index(address)
        if unit_index is None:
            return None
        scopes, lines = self._parsed(unit_index)
        file = line = None
        if lines is not None:
            hit = lines.lookup(address)
            if hit is not None:
                file, line = hit
        if scopes is None:
            return DwarfLocation((), file, line) if line is not None else None
        scope = scopes.innermost(address)
        chain: list[SymbolInfo] = []
        where_file, where_line = file, line
        while scope != NO_SCOPE:
            name_die = scopes.name_die[scope]
            name = self.names.name_of(name_die) if name_die is not None else None
            if scopes.inlined[scope]:
                chain.append(SymbolInfo(name or "??", None, where_file, where_line, inlined=True))
                where_file = lines.file_path(scopes.call_file[scope]) if lines is not None else None
                where_line = scopes.call_line[scope] or None
                scope = scopes.parent[scope]
                continue
            offset = address - scopes.entry[scope]
            if name is None:
                # nameless real function (a reference into another file): let a symbol table name it
                return DwarfLocation((), file, line) if line is not None else None
            chain.append(SymbolInfo(name, offset if offset >= 0 else None, where_file, where_line))
            break
        if chain and chain[-1].inlined:
            return DwarfLocation((), file, line) if line is not None else None  # no real function found
        if not chain and line is None:
            return None
        return DwarfLocation(tuple(chain), file, line)

    def unit_tables(self, address: int) -> tuple[UnitScopes | None, LineTable | None]:
        """The parsed inline scopes and line table of the unit holding ``address`` (Nones outside)."""
        unit_index = self.unit_index(address)
        if unit_index is None:
            return None, None
        return self._parsed(unit_index)

    def _parsed(self, unit_index: int) -> tuple[UnitScopes | None, LineTable | None]:
        if unit_index not in self._scopes:
            self.units_parsed += 1
            try:
                unit = self.units.unit(unit_index)
            except (DwarfError, IndexError, ValueError, KeyError) as exc:
                self._damaged(self.units.units[unit_index], exc)
                self._scopes[unit_index] = self._lines[unit_index] = None
            else:
                self._scopes[unit_index] = self._read_scopes(unit)
                self._lines[unit_index] = self._read_lines(unit)
        return self._scopes[unit_index], self._lines[unit_index]

    def _read_scopes(self, unit: Unit) -> UnitScopes | None:
        try:
            return read_unit_scopes(self.units, unit)
        except (DwarfError, IndexError, ValueError, KeyError) as exc:
            self._damaged(unit, exc)
            return None

    def _read_lines(self, unit: Unit) -> LineTable | None:
        if unit.stmt_list is None:
            return None
        try:
            return read_line_table(
                self.units.sections.line, unit.stmt_list, unit.enc, unit.comp_dir,
                lambda form, value: self.units.string(unit, form, value),
            )
        except DwarfError as exc:
            self.problems.append(
                f"The line table of {self.label} is damaged ({exc}); some frames have no file:line."
            )
            return None
