"""LEB128 (DWARF 5 §7.6) and DW_EH_PE pointers (LSB 5.0 §10.5), plus perf's register block."""

from __future__ import annotations

import struct

import pytest

from stax_binfmt.cfi.errors import UnwindTableError
from stax_binfmt.cfi.pointer_encoding import read_encoded_pointer
from stax_binfmt.cfi.x86_64_registers import registers_from_names
from stax_binfmt.leb128 import read_sleb128, read_uleb128
from stax_binfmt.perf_regs import PERF_REGS_USER_MASK_X86_64, regs_from_perf


@pytest.mark.parametrize(
    ("data", "value"),
    [(b"\x02", 2), (b"\x7f", 127), (b"\x80\x01", 128), (b"\xe5\x8e\x26", 624485)],
)
def test_uleb128(data: bytes, value: int) -> None:
    assert read_uleb128(data + b"\xff", 0) == (value, len(data))


@pytest.mark.parametrize(
    ("data", "value"),
    [(b"\x02", 2), (b"\x7e", -2), (b"\xff\x00", 127), (b"\x81\x7f", -127), (b"\xc0\xbb\x78", -123456)],
)
def test_sleb128(data: bytes, value: int) -> None:
    assert read_sleb128(data, 0) == (value, len(data))


def test_encoded_pointers() -> None:
    data = struct.pack("<i", -16) + struct.pack("<Q", 0x1234) + b"\x90\x01"
    # pcrel|sdata4 at section address 0x2000, offset 0 -> 0x2000 - 16
    assert read_encoded_pointer(data, 0, 0x1B, section_address=0x2000) == (0x2000 - 16, 4)
    # datarel|sdata4 (the .eh_frame_hdr table)
    assert read_encoded_pointer(data, 0, 0x3B, section_address=0, data_base=0x5000) == (0x5000 - 16, 4)
    assert read_encoded_pointer(data, 4, 0x00, section_address=0) == (0x1234, 12)
    assert read_encoded_pointer(data, 12, 0x01, section_address=0) == (0x90 & 0x7F | 1 << 7, 14)
    # indirect: the value is where the pointer is
    assert read_encoded_pointer(
        data, 4, 0x80, section_address=0, read_indirect=lambda address: address + 1
    ) == (0x1235, 12)
    with pytest.raises(UnwindTableError):
        read_encoded_pointer(data, 0, 0xFF, section_address=0)


def test_regs_from_perf() -> None:
    # the kernel writes one u64 per mask bit, lowest bit first
    names = ["ax", "bx", "cx", "dx", "si", "di", "bp", "sp", "ip"] + [f"r{n}" for n in range(8, 16)]
    values = list(range(100, 100 + len(names)))
    regs = regs_from_perf(PERF_REGS_USER_MASK_X86_64, values)
    assert regs == dict(zip(names, values, strict=True))
    dwarf = registers_from_names(regs)
    assert (dwarf[7], dwarf[16], dwarf[6], dwarf[3], dwarf[1]) == (107, 108, 106, 101, 103)


def test_perf_register_layout_matches_the_named_path() -> None:
    from stax_binfmt.cfi.x86_64_registers import PerfRegisterLayout

    mask = 0xFF0FFF  # what `perf record --call-graph dwarf` asks for on x86-64
    values = list(range(1000, 1000 + bin(mask).count("1")))
    layout = PerfRegisterLayout(mask)
    assert layout.dwarf_registers(values) == registers_from_names(regs_from_perf(mask, values))
    assert layout.dwarf_registers(values)[16] == 1008  # ip is bit 8
