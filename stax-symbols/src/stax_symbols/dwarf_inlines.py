"""Functions and inlined calls of one compile unit, as a flat address map to innermost scopes.

One walk over the unit's DIEs collects every DW_TAG_subprogram and
DW_TAG_inlined_subroutine that has code (low_pc/high_pc or DW_AT_ranges), each with its
enclosing scope, the DIE that names it, and for an inlined call its DW_AT_call_file and
DW_AT_call_line (the caller's line; DWARF 5, 3.3.8.2).  Inlined ranges nest inside their
caller's, so a sweep over the ranges sorted by (start, longest first) turns them into
disjoint intervals, each mapped to the innermost scope; a lookup is then one bisect, and
the inline chain is the walk up the parents.
"""

from __future__ import annotations

import bisect
from array import array

from stax_symbols.dwarf_forms import (
    AT_ABSTRACT_ORIGIN,
    AT_CALL_FILE,
    AT_CALL_LINE,
    AT_ENTRY_PC,
    AT_HIGH_PC,
    AT_LOW_PC,
    AT_RANGES,
    AT_SIBLING,
    CONSTANT_FORMS,
    CU_REF_FORMS,
    FORM_REF_ADDR,
    TAG_INLINED_SUBROUTINE,
    TAG_SUBPROGRAM,
    TYPE_TAGS,
    ReaderSteps,
    compile_reader,
    read_selected,
    skip_attributes,
)
from stax_symbols.dwarf_units import DwarfUnits, Unit

NO_SCOPE = -1

_SCOPE_ATTRIBUTES = frozenset({AT_LOW_PC, AT_HIGH_PC, AT_RANGES, AT_ENTRY_PC, AT_ABSTRACT_ORIGIN,
                               AT_CALL_FILE, AT_CALL_LINE})
"""What the walk reads of a subprogram or inlined call; names are looked up later, by offset."""
_SIBLING = frozenset({AT_SIBLING})


class UnitScopes:
    """The code scopes of one unit: parallel lists indexed by scope number, plus the flat map."""

    __slots__ = ("name_die", "parent", "inlined", "call_file", "call_line", "entry", "_starts", "_scopes")

    def __init__(self) -> None:
        self.name_die: list[int | None] = []
        """The DIE whose name (or linkage name) names the scope."""
        self.parent: list[int] = []
        """Enclosing scope for an inlined call; NO_SCOPE for a real (out-of-line) function."""
        self.inlined: list[bool] = []
        self.call_file: list[int] = []
        self.call_line: list[int] = []
        self.entry: list[int] = []
        """Entry address of a real function, for the offset into it."""
        self._starts = array("Q")
        self._scopes = array("i")

    def __len__(self) -> int:
        return len(self.parent)

    def innermost(self, address: int) -> int:
        """The innermost scope holding ``address``, or NO_SCOPE."""
        index = bisect.bisect_right(self._starts, address) - 1
        return self._scopes[index] if index >= 0 else NO_SCOPE

    def segments_between(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """(from, to, innermost scope) of the flat map's pieces that overlap [start, end)."""
        starts, scopes = self._starts, self._scopes
        index = max(bisect.bisect_right(starts, start) - 1, 0)
        out = []
        while index < len(starts) and starts[index] < end:
            piece_end = starts[index + 1] if index + 1 < len(starts) else end
            low, high = max(starts[index], start), min(piece_end, end)
            if high > low:
                out.append((low, high, scopes[index]))
            index += 1
        return out

    def _flatten(self, intervals: list[tuple[int, int, int, int]]) -> None:
        # intervals: (start, end, depth, scope).  Outer ranges first among equal starts, so a
        # stack holds the open nest; each new boundary starts a segment owned by the top.
        intervals.sort(key=lambda iv: (iv[0], -iv[1], iv[2]))
        starts: list[int] = []
        owners: list[int] = []

        def mark(at: int, owner: int) -> None:
            if starts and starts[-1] == at:
                owners[-1] = owner
            else:
                starts.append(at)
                owners.append(owner)

        stack: list[tuple[int, int]] = []  # (end, scope), ends non-increasing upward
        for start, end, _depth, scope in intervals:
            while stack and stack[-1][0] <= start:
                closed_end, _ = stack.pop()
                mark(closed_end, stack[-1][1] if stack else NO_SCOPE)
            mark(start, scope)
            stack.append((min(end, stack[-1][0]) if stack else end, scope))
        while stack:
            closed_end, _ = stack.pop()
            mark(closed_end, stack[-1][1] if stack else NO_SCOPE)
        self._starts = array("Q", starts)
        self._scopes = array("i", owners)


def read_unit_scopes(units: DwarfUnits, unit: Unit) -> UnitScopes:
    """Walk the DIEs of ``unit`` once and build its :class:`UnitScopes`."""
    scopes = UnitScopes()
    intervals: list[tuple[int, int, int, int]] = []
    info = units.sections.info
    abbrevs = unit.abbrevs
    enc = unit.enc
    unit_offset = unit.offset
    pos = unit.first_die
    end = unit.end
    readers: dict[int, ReaderSteps] = {}  # abbreviation code -> compiled reader
    # Per open DIE with children: the scope its children belong to.
    stack: list[int] = []
    current = NO_SCOPE
    while pos < end:
        die_offset = pos
        # inline ULEB128 for the abbreviation code: nearly always one byte
        code = info[pos]
        pos += 1
        if code >= 0x80:
            code &= 0x7F
            shift = 7
            while True:
                byte = info[pos]
                pos += 1
                code |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
        if code == 0:
            if not stack:
                break
            current = stack.pop()
            continue
        abbrev = abbrevs[code]
        tag = abbrev.tag
        if tag == TAG_SUBPROGRAM or tag == TAG_INLINED_SUBROUTINE:
            steps = readers.get(code)
            if steps is None:
                steps = readers[code] = compile_reader(abbrev, enc, _SCOPE_ATTRIBUTES)
            values, pos = read_selected(steps, info, pos, enc)
            ranges = units.die_ranges(unit, values)
            scope = current
            if ranges:
                scope = len(scopes.parent)
                is_inline = tag == TAG_INLINED_SUBROUTINE
                scopes.name_die.append(_origin(values, unit_offset) if is_inline else die_offset)
                scopes.parent.append(current if is_inline else NO_SCOPE)
                scopes.inlined.append(is_inline)
                scopes.call_file.append(_constant(values, AT_CALL_FILE))
                scopes.call_line.append(_constant(values, AT_CALL_LINE))
                entry = units.address(unit, *values[AT_ENTRY_PC]) if AT_ENTRY_PC in values and \
                    values[AT_ENTRY_PC][0] not in CONSTANT_FORMS else None
                scopes.entry.append(entry if entry is not None else ranges[0][0])
                depth = len(stack)
                for start, stop in ranges:
                    intervals.append((start, stop, depth, scope))
            if abbrev.has_children:
                stack.append(current)
                current = scope
        elif abbrev.has_children and tag in TYPE_TAGS and abbrev.has_sibling:
            steps = readers.get(code)
            if steps is None:
                steps = readers[code] = compile_reader(abbrev, enc, _SIBLING)
            values, pos = read_selected(steps, info, pos, enc)
            form, sibling = values[AT_SIBLING]
            target = unit_offset + sibling if form in CU_REF_FORMS else \
                sibling if form == FORM_REF_ADDR else 0  # type: ignore[operator]
            if target > pos:  # type: ignore[operator]
                pos = target  # type: ignore[assignment]
            else:
                stack.append(current)
        else:
            pos = skip_attributes(abbrev, info, pos, enc)
            if abbrev.has_children:
                stack.append(current)
    scopes._flatten(intervals)
    return scopes


def _origin(values: dict[int, tuple[int, object]], unit_offset: int) -> int | None:
    """The DIE an inlined call takes its name from (its DW_AT_abstract_origin)."""
    if AT_ABSTRACT_ORIGIN not in values:
        return None
    form, value = values[AT_ABSTRACT_ORIGIN]
    if form in CU_REF_FORMS:
        return unit_offset + value  # type: ignore[operator]
    if form == FORM_REF_ADDR:
        return value  # type: ignore[return-value]
    return None


def _constant(values: dict[int, tuple[int, object]], attr: int) -> int:
    if attr not in values:
        return 0
    value = values[attr][1]
    return value if isinstance(value, int) else 0
