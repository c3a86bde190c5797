""".debug_aranges finds the unit of an address without reading the other units.

Expected values come from binutils: readelf's dump of .debug_aranges for the table itself,
``addr2line -f -i`` for the answers.  A program of three units is resolved with the table,
without it (the top-DIE scan), with one unit's set missing, and with a damaged table; the
chains must be addr2line's every time, and only the units holding the addresses are read.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import attrs
import pytest

from stax_symbols.dwarf.aranges import AddressRanges, read_aranges
from stax_symbols.dwarf.forms import DwarfError
from stax_symbols.dwarf.resolver import DwarfResolver
from stax_symbols.dwarf.sections import DwarfSections, read_dwarf_sections
from tests.symbols.debug_workload import Chain, addr2line_chains, as_chain, instruction_addresses, run

MAIN = r"""
int helper_sum(int n);
int helper_mix(int n);
volatile int sink;

static inline __attribute__((always_inline)) int square_in_main(int x) { sink = x; return x * x; }

int main(int argc, char **argv) {
    (void)argv;
    int s = 0;
    for (int i = 0; i < argc * 1000; i++) s += square_in_main(i) ^ helper_sum(i);
    return helper_mix(s) & 1;
}
"""

HELPERS = r"""
extern volatile int sink;

static inline __attribute__((always_inline)) int twice(int x) { sink = x; return x + x; }

__attribute__((noinline)) int helper_sum(int n) {
    int s = 0;
    for (int i = 0; i < n; i++) s += twice(i);
    return s;
}
"""

MIXER = r"""
extern volatile int sink;

__attribute__((noinline)) int helper_mix(int n) { sink = n; return n * 2654435761u >> 7; }
"""

FUNCTIONS = ("main", "helper_sum", "helper_mix")


@attrs.frozen
class Program:
    binary: Path
    no_aranges: Path
    addresses: list[int]
    expected: dict[int, Chain]


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Program:
    d = tmp_path_factory.mktemp("aranges")
    sources = []
    for name, text in (("main", MAIN), ("helpers", HELPERS), ("mixer", MIXER)):
        (d / f"{name}.c").write_text(text)
        sources.append(d / f"{name}.c")
    binary = d / "prog"
    run("gcc", "-g", "-O2", "-o", binary, *sources)
    no_aranges = d / "prog_no_aranges"
    run("objcopy", "--remove-section=.debug_aranges", binary, no_aranges)
    addresses = instruction_addresses(binary, FUNCTIONS)
    return Program(binary, no_aranges, addresses, addr2line_chains(binary, addresses))


def sections_of(path: Path) -> DwarfSections:
    with open(path, "rb") as stream:
        return read_dwarf_sections(stream)


def readelf_aranges(path: Path) -> list[tuple[int, int, int]]:
    """(start, end, unit offset) of every non-empty range, as readelf prints the table."""
    rows = []
    unit = -1
    for line in run("readelf", "--debug-dump=aranges", path).splitlines():
        m = re.match(r"\s*Offset into \.debug_info:\s+(?:0x)?([0-9a-f]+)", line)
        if m:
            unit = int(m.group(1), 16)
            continue
        m = re.match(r"\s+([0-9a-f]{8,16}) ([0-9a-f]{8,16})\s*$", line)
        if m and int(m.group(2), 16):
            start = int(m.group(1), 16)
            rows.append((start, start + int(m.group(2), 16), unit))
    return rows


def assert_answers_like_addr2line(resolver: DwarfResolver, program: Program) -> None:
    compared = 0
    for address in program.addresses:
        want = program.expected[address]
        if want[0][2] is None:
            continue  # padding: addr2line has no line either
        found = resolver.locate(address)
        assert found is not None, f"{address:#x}"
        assert as_chain(found.chain) == want, f"{address:#x}"
        compared += 1
    assert compared >= 0.9 * len(program.addresses)
    assert resolver.problems == []


def test_table_is_what_readelf_prints(program: Program) -> None:
    sections = sections_of(program.binary)
    table = read_aranges(sections.aranges, sections.little_endian)
    expected = readelf_aranges(program.binary)
    assert sorted(table.rows) == sorted(expected)
    assert len({unit for _, _, unit in expected}) >= 3  # our three C files, at least
    assert {unit for _, _, unit in expected} <= table.units


def test_answers_with_the_table_read_only_the_units_asked_for(program: Program) -> None:
    resolver = DwarfResolver(sections_of(program.binary), str(program.binary))
    assert resolver.units.units_ready == 0  # opening reads headers and the table only
    helper_mix = next(a for a in program.addresses if program.expected[a][0][0] == "helper_mix")
    assert as_chain(resolver.locate(helper_mix).chain) == program.expected[helper_mix]  # type: ignore[union-attr]
    assert resolver.units_parsed == 1 and resolver.units.units_ready == 1
    assert_answers_like_addr2line(resolver, program)
    assert resolver.units_parsed == 3


def test_without_the_table_top_dies_answer_the_same(program: Program) -> None:
    sections = sections_of(program.no_aranges)
    assert sections.aranges == b""
    resolver = DwarfResolver(sections, str(program.no_aranges))
    assert_answers_like_addr2line(resolver, program)


def test_unit_missing_from_the_table_is_found_by_its_top_die(program: Program) -> None:
    """A table that has no set for one unit (a hand-written assembly file, say)."""
    sections = sections_of(program.binary)
    full = DwarfResolver(sections, "full")
    helper_sum = next(a for a in program.addresses if program.expected[a][0][0] in ("twice", "helper_sum"))
    dropped = full.units.units[full.unit_index(helper_sum)].offset  # type: ignore[index]
    partial = attrs.evolve(sections, aranges=_without_set(sections.aranges, dropped))
    assert len(read_aranges(partial.aranges).units) == len(read_aranges(sections.aranges).units) - 1
    resolver = DwarfResolver(partial, "partial")
    assert_answers_like_addr2line(resolver, program)


def test_damaged_table_falls_back_without_a_warning(program: Program) -> None:
    sections = sections_of(program.binary)
    damaged = attrs.evolve(sections, aranges=b"\xff" * 40)
    with pytest.raises(DwarfError):
        read_aranges(damaged.aranges)
    assert_answers_like_addr2line(DwarfResolver(damaged, "damaged"), program)


def _without_set(data: bytes, unit_offset: int) -> bytes:
    """The 32-bit little-endian .debug_aranges ``data`` less the set of ``unit_offset``."""
    out = bytearray()
    pos = 0
    while pos < len(data):
        (length,) = struct.unpack_from("<I", data, pos)
        (unit,) = struct.unpack_from("<I", data, pos + 6)
        if unit != unit_offset:
            out += data[pos : pos + 4 + length]
        pos += 4 + length
    return bytes(out)


# -- the table format, on hand-made sections (DWARF 5, 6.1.2 and 7.21) ---------------------


def aranges_set(unit: int, tuples: list[tuple[int, int]], *, wide: bool = False, big: bool = False,
                version: int = 2, address_size: int = 8) -> bytes:
    order = ">" if big else "<"
    code = {4: "I", 8: "Q"}[address_size]
    header = struct.pack(order + ("HQBB" if wide else "HIBB"), version, unit, address_size, 0)
    length_field = 4 if not wide else 12
    # tuples start at a multiple of the tuple size, counted from the start of the set
    tuple_size = 2 * address_size
    padding = -(length_field + len(header)) % tuple_size
    body = header + bytes(padding) + b"".join(
        struct.pack(order + 2 * code, start, length) for start, length in [*tuples, (0, 0)])
    if wide:
        return struct.pack(order + "IQ", 0xFFFFFFFF, len(body)) + body
    return struct.pack(order + "I", len(body)) + body


def test_sets_of_every_shape() -> None:
    data = (aranges_set(0x0, [(0x1000, 0x20), (0x3000, 0x10)])
            + aranges_set(0x80, [])  # a unit without code still has a set
            + aranges_set(0x100, [(0x2000, 0x40), (0x2400, 0)], wide=True))
    table = read_aranges(data)
    assert sorted(table.rows) == [(0x1000, 0x1020, 0x0), (0x2000, 0x2040, 0x100), (0x3000, 0x3010, 0x0)]
    assert table.units == {0x0, 0x80, 0x100}


def test_big_endian_and_32_bit_addresses() -> None:
    data = aranges_set(0x44, [(0x8000, 0x100)], big=True, address_size=4)
    assert read_aranges(data, little_endian=False).rows == [(0x8000, 0x8100, 0x44)]


@pytest.mark.parametrize("data", [
    aranges_set(0, [(0x1000, 0x20)])[:-8],  # cut short
    aranges_set(0, [(0x1000, 0x20)], version=3),
    b"\xf0\xff\xff\xff" + bytes(20),  # reserved length
])
def test_damage_is_an_error(data: bytes) -> None:
    with pytest.raises(DwarfError):
        read_aranges(data)


def test_lookup_steps_back_over_a_nested_range() -> None:
    ranges = AddressRanges([(0x1000, 0x2000, 1), (0x1100, 0x1200, 2), (0x3000, 0x3100, 3)])
    assert [ranges.find(a) for a in (0xFFF, 0x1000, 0x1150, 0x1300, 0x2000, 0x30FF, 0x3100)] == \
        [None, 1, 2, 1, None, 3, None]
