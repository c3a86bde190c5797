"""``__unwind_info`` rows equal what ``llvm-objdump --unwind-info`` prints, and DWARF-mode
encodings lead to the ``__eh_frame`` FDE that llvm-objdump shows for the same function."""

from __future__ import annotations

import pytest

from stax_symbols.macho.compact_unwind import describe, is_dwarf_mode, read_unwind_info
from stax_symbols.macho.eh_frame import EhFrame
from stax_symbols.macho.load_commands import MachoError
from stax_symbols.macho.macho_file import MachoSlice, open_macho
from tests.symbols.macho.macho_build import (
    ARCHES,
    MachoBuild,
    objdump_cfa_rows,
    objdump_fdes,
    objdump_unwind_info,
)


def _slice(path) -> MachoSlice:
    return open_macho(str(path)).select()


def _section(s: MachoSlice, name: str) -> tuple[bytes, int]:
    section = s.image.section("__TEXT", name)
    assert section is not None, name
    return s.read(section.file_offset, section.size), section.address


@pytest.mark.parametrize("arch", ARCHES)
def test_rows_match_llvm_objdump(macho: MachoBuild, arch: str) -> None:
    binary = macho.binaries[arch]
    table = read_unwind_info(_section(_slice(binary), "__unwind_info")[0])
    expected = objdump_unwind_info(binary)
    assert list(table.common_encodings) == expected.common[: len(table.common_encodings)]
    assert [(i.function_offset, i.page_offset, i.lsda_offset) for i in table.index] == expected.index
    assert [(e.function_offset, e.encoding) for e in table.entries] == expected.entries
    assert len(table.entries) == 4  # exported_driver, local_worker, main, odd_frame


def test_dylib_rows_match_llvm_objdump(macho: MachoBuild) -> None:
    table = read_unwind_info(_section(_slice(macho.dylib), "__unwind_info")[0])
    assert [(e.function_offset, e.encoding) for e in table.entries] == objdump_unwind_info(
        macho.dylib
    ).entries


@pytest.mark.parametrize("arch", ARCHES)
def test_dwarf_mode_entry_finds_its_fde(macho: MachoBuild, arch: str) -> None:
    """odd_frame's encoding defers to __eh_frame; the FDE at its offset covers odd_frame,
    and every FDE and CFA row is what llvm-objdump --dwarf=frames reads."""
    s = _slice(macho.binaries[arch])
    table = read_unwind_info(_section(s, "__unwind_info")[0])
    eh = EhFrame(*_section(s, "__eh_frame"))
    fdes = objdump_fdes(macho.binaries[arch])
    assert [(f.offset, f.pc_begin, f.pc_end) for f in eh.fdes] == fdes
    dwarf_entries = [e for e in table.entries if is_dwarf_mode(arch, e.encoding)]
    assert len(dwarf_entries) == 1
    entry = dwarf_entries[0]
    fde = eh.fde_at(entry.encoding & 0xFFFFFF)
    odd_frame = s.image.text_vmaddr + entry.function_offset
    assert fde.pc_begin == odd_frame and eh.fde_for(odd_frame) == fde
    assert describe(arch, entry.encoding) == f"dwarf, FDE at __eh_frame+{fde.offset:#x}"
    rows = eh.section.rows_for(fde).rows
    expected = objdump_cfa_rows(macho.binaries[arch])
    assert [(r.start, r.cfa_register, r.cfa_offset) for r in rows] == [
        (pc, *expected[pc]) for pc in sorted(expected) if fde.pc_begin <= pc < fde.pc_end
    ]


def test_encodings_read_as_documented(macho: MachoBuild) -> None:
    arm = read_unwind_info(_section(_slice(macho.binaries["arm64"]), "__unwind_info")[0])
    texts = {describe("arm64", e.encoding) for e in arm.entries}
    assert {"frame, saves x19/x20", "frameless, stack 0"} <= texts
    x86 = read_unwind_info(_section(_slice(macho.binaries["x86_64"]), "__unwind_info")[0])
    assert any(describe("x86_64", e.encoding).startswith("rbp frame") for e in x86.entries)
    # lookup: an offset inside a function gets that function's row
    first, second = arm.entries[0], arm.entries[1]
    assert arm.lookup(first.function_offset + 4) == first
    assert arm.lookup(second.function_offset) == second
    assert arm.lookup(arm.end_offset) is None


def test_damaged_section_is_one_error() -> None:
    with pytest.raises(MachoError, match="damaged"):
        read_unwind_info(b"\x01\x00\x00\x00" + b"\xff" * 10)
    with pytest.raises(MachoError, match="version 7"):
        read_unwind_info((7).to_bytes(4, "little") + bytes(24))
