"""The DWARF that annotated disassembly needs for one function: line rows and inline ranges.

Cut from the unit tables the resolver already parsed for symbolication (one line table
and one flat inline map per unit, :mod:`.dwarf_lines` / :mod:`.dwarf_inlines`), so keeping
them in the recording costs two bisects per function.  Inline ranges carry the whole
chain per address range, innermost first, like ``frame_inlines`` does per frame.
"""

from __future__ import annotations

from stax.function_code import InlineRange, LineRow
from stax_symbols.dwarf_inlines import NO_SCOPE
from stax_symbols.dwarf_resolver import DwarfResolver

_MAX_CHAIN = 64
"""Inline nesting is a handful deep; a bound keeps a cyclic (corrupt) parent chain finite."""


def function_lines(resolver: DwarfResolver, start: int, end: int) -> tuple[LineRow, ...]:
    """The line-table rows that give every address in [start, end) its file:line."""
    _, lines = resolver.unit_tables(start)
    if lines is None:
        return ()
    return tuple(LineRow(address, path, line) for address, path, line in lines.rows_between(start, end))


def function_inlines(resolver: DwarfResolver, start: int, end: int) -> tuple[InlineRange, ...]:
    """Inlined calls in [start, end): one range per (piece of code, depth), innermost depth 0."""
    scopes, lines = resolver.unit_tables(start)
    if scopes is None:
        return ()
    out: list[InlineRange] = []
    previous: tuple[tuple[str, str | None, int | None], ...] = ()
    open_ranges: list[InlineRange] = []
    for low, high, scope in scopes.segments_between(start, end):
        chain: list[tuple[str, str | None, int | None]] = []
        while scope != NO_SCOPE and scopes.inlined[scope] and len(chain) < _MAX_CHAIN:
            name_die = scopes.name_die[scope]
            name = resolver.names.name_of(name_die) if name_die is not None else None
            call_file = lines.file_path(scopes.call_file[scope]) if lines is not None else None
            chain.append((name or "??", call_file, scopes.call_line[scope] or None))
            scope = scopes.parent[scope]
        key = tuple(chain)
        if not key:
            previous, open_ranges = (), []
            continue
        if key == previous and open_ranges and open_ranges[0].end == low:
            open_ranges = [InlineRange(r.start, high, r.depth, r.function, r.call_file, r.call_line)
                           for r in open_ranges]  # the same chain goes on: widen it
            out[-len(open_ranges):] = open_ranges
            continue
        open_ranges = [InlineRange(low, high, depth, name, call_file, call_line)
                       for depth, (name, call_file, call_line) in enumerate(chain)]
        out.extend(open_ranges)
        previous = key
    return tuple(out)
