"""CFA programs run by the parser, row for row against binutils' ``readelf -wF``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stax_backend_linux.unwind import ElfUnwindTables
from stax_binfmt.cfi.eh_frame_hdr import FdeIndex
from stax_binfmt.cfi.unwind_row import RuleKind, UnwindRow
from stax_binfmt.cfi.x86_64_registers import CALLEE_SAVED, DWARF_REGISTER_NAMES, RIP
from tests.backend_linux.unwind.snapshots import run

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
LD_SO = "/lib64/ld-linux-x86-64.so.2"
LIBGCC_S = "/lib/x86_64-linux-gnu/libgcc_s.so.1"
LIBSTDCXX = "/lib/x86_64-linux-gnu/libstdc++.so.6"

_FDE = re.compile(r"^[0-9a-f]+ [0-9a-f]+ [0-9a-f]+ FDE cie=([0-9a-f]+) pc=([0-9a-f]+)\.\.([0-9a-f]+)$")
_CIE = re.compile(r"^([0-9a-f]+) [0-9a-f]+ [0-9a-f]+ CIE")
_CELL = re.compile(r"r\d+ \([^)]*\)|\S+")
_COLUMNS = {name: number for number, name in enumerate(DWARF_REGISTER_NAMES)} | {"ra": RIP}


def readelf_tables(path: str) -> list[tuple[int, int, list[tuple[int, dict[str, str]]]]]:
    """(pc_begin, pc_end, rows) per FDE of ``readelf -wF``; a row is (loc, {column: cell}).

    An FDE whose program adds nothing is printed without a table: it has the CIE's row.
    """
    fdes: list[tuple[int, int, list[tuple[int, dict[str, str]]]]] = []
    fde_cies: list[int] = []
    cie_rows: dict[int, list[tuple[int, dict[str, str]]]] = {}
    current: list[tuple[int, dict[str, str]]] | None = None
    columns: list[str] = []
    # readelf exits 1 over unrelated warnings (e.g. debug sections it cannot follow)
    for line in run("readelf", "-wF", path, check=False).splitlines():
        if match := _FDE.match(line):
            current = []
            fdes.append((int(match.group(2), 16), int(match.group(3), 16), current))
            fde_cies.append(int(match.group(1), 16))
        elif match := _CIE.match(line):
            current = cie_rows[int(match.group(1), 16)] = []
        elif line.strip().startswith("LOC"):
            columns = line.split()[1:]
        elif current is not None and re.match(r"^[0-9a-f]{16} ", line):
            cells = _CELL.findall(line)
            current.append((int(cells[0], 16), dict(zip(columns, cells[1:], strict=True))))
    for (begin, _, rows), cie in zip(fdes, fde_cies, strict=True):
        if not rows:
            rows.extend((begin, cells) for _, cells in cie_rows[cie][:1])
    return fdes


def _describe(row: UnwindRow, column: str) -> str:
    """Our rule in readelf's notation; "u" for unspecified, undefined or same value."""
    if column == "CFA":
        if row.cfa_expression is not None:
            return "exp"
        return f"{DWARF_REGISTER_NAMES[row.cfa_register]}{row.cfa_offset:+d}"
    number = _COLUMNS[column]
    if number == RIP and row.return_address_undefined:
        return "u"
    for saved_column, offset in row.saved:
        if saved_column == number:
            return f"c{offset:+d}"
    for rule_column, kind, argument in row.rules:
        if rule_column == number:
            if kind == RuleKind.VAL_OFFSET:
                return f"v{argument:+d}"
            if kind == RuleKind.REGISTER:
                return f"r{argument} ({DWARF_REGISTER_NAMES[argument]})"  # type: ignore[index]
            if kind == RuleKind.EXPRESSION:
                return "exp"
            if kind == RuleKind.VAL_EXPRESSION:
                return "vexp"
            return "u"
    return "u"


def _normalise(column: str, cell: str) -> str:
    if cell == "s" and _COLUMNS.get(column) in CALLEE_SAVED:
        return "u"  # callee-saved registers keep their value either way
    return cell


@pytest.mark.parametrize("path", [LIBC, LD_SO, LIBGCC_S, LIBSTDCXX, "harness", "cfi_zoo"])
def test_rows_match_readelf(path: str, harness: Path, cfi_zoo: Path) -> None:
    path = {"harness": str(harness), "cfi_zoo": str(cfi_zoo)}.get(path, path)
    if not Path(path).exists():
        pytest.skip(f"{path} is not installed")
    tables = ElfUnwindTables.from_path(path)
    assert tables.eh_frame is not None and tables.eh_frame_source == "eh_frame_hdr"
    fdes = readelf_tables(path)
    checked = 0
    for begin, end, rows in fdes:
        if begin >= end:
            continue
        fde = tables.eh_frame.find_fde(begin)
        assert fde is not None and (fde.pc_begin, fde.pc_end) == (begin, end), hex(begin)
        ours = tables.eh_frame.section.rows_for(fde).rows
        assert ours[0].start == begin and ours[-1].end == end
        locations = sorted({loc for loc, _ in rows if loc < end} | {row.start for row in ours})
        for location in locations:
            theirs = [cells for loc, cells in rows if loc <= location][-1]
            row = tables.row_for(location)
            assert row is not None
            for column, cell in theirs.items():
                if column == "CFA" or column in _COLUMNS:
                    assert _describe(row, column) == _normalise(column, cell), (path, hex(location), column)
            checked += 1
    assert checked > 0


def test_search_table_equals_a_scan_of_eh_frame() -> None:
    """.eh_frame_hdr's table (LSB §10.6.2) and a linear walk of .eh_frame find the same FDEs."""
    tables = ElfUnwindTables.from_path(LIBC)
    assert tables.eh_frame is not None
    scanned = FdeIndex.by_scanning(tables.eh_frame.section)
    from_header = [(s, o) for s, o in zip(tables.eh_frame.starts, tables.eh_frame.offsets, strict=True)]
    assert [(s, o) for s, o in zip(scanned.starts, scanned.offsets, strict=True)] == [
        (s, o) for s, o in from_header if tables.eh_frame.section.fde_at(o).pc_end > s
    ]


def test_signal_trampoline_row() -> None:
    """glibc's __restore_rt: a "zRS" CIE, CFA = *(rsp + 160), every register by expression."""
    tables = ElfUnwindTables.from_path(LIBC)
    symbols = run("nm", "/usr/lib/debug/.build-id/" + _libc_debug_name())
    address = next(
        int(line.split()[0], 16) for line in symbols.splitlines() if line.endswith(" __restore_rt")
    )
    row = tables.row_for(address)
    assert row is not None and row.signal_frame
    assert row.cfa_expression is not None and row.cfa_expression.source == bytes([0x77, 0xA0, 0x01, 0x06])
    assert {column for column, kind, _ in row.rules if kind == RuleKind.EXPRESSION} == set(range(17))


def _libc_debug_name() -> str:
    build_id = re.search(r"Build ID: ([0-9a-f]+)", run("readelf", "-n", LIBC))
    assert build_id
    return f"{build_id.group(1)[:2]}/{build_id.group(1)[2:]}.debug"
