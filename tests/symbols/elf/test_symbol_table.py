"""The range table every source searches, and the ELF policy for sizes and aliases."""

from __future__ import annotations

from stax_symbols.symbol_table import SymbolTable


def test_sized_ranges_gaps_and_nesting() -> None:
    table = SymbolTable([(0x100, 0x140, "outer"), (0x110, 0x118, "inner"), (0x200, 0x210, "next")])
    assert table.lookup(0x0FF) is None
    assert table.lookup(0x100) == ("outer", 0)
    assert table.lookup(0x112) == ("inner", 2)
    assert table.lookup(0x118) == ("outer", 0x18)  # back in the enclosing function
    assert table.lookup(0x140) is None  # past the end of a sized symbol: a gap, not "outer"
    assert table.lookup(0x20F) == ("next", 0xF)
    assert table.lookup(0x210) is None


def test_first_row_at_an_address_wins_and_empty_rows_are_dropped() -> None:
    table = SymbolTable([(0x10, 0x20, "preferred"), (0x10, 0x30, "alias"), (0x40, 0x40, "empty"),
                         (0x50, 0x60, "")])
    assert len(table) == 1
    assert table.lookup(0x1F) == ("preferred", 0xF)
    assert table.lookup(0x25) is None
    assert table.lookup(0x40) is None and table.lookup(0x55) is None
    assert table.address_of("preferred") == 0x10 and table.address_of("alias") is None


def test_from_sorted_matches_the_general_constructor() -> None:
    rows = [(i * 16, i * 16 + 8, f"f{i}") for i in range(100)]
    a = SymbolTable(rows)
    b = SymbolTable.from_sorted([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    for address in range(0, 1700, 3):
        assert a.lookup(address) == b.lookup(address)
