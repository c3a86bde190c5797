"""The DW_OP evaluator (DWARF 5 §2.5) on the expressions CFI carries, and its edge cases."""

from __future__ import annotations

import pytest

from stax_binfmt.cfi.errors import StackReadError, UnknownRegisterError, UnwindTableError
from stax_binfmt.cfi.expression import DwarfExpression
from stax_binfmt.cfi.x86_64_registers import REGISTER_COUNT, RIP, RSP

# ld's lazy PLT entry: DW_OP_breg7 8; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_lit11;
# DW_OP_ge; DW_OP_lit3; DW_OP_shl; DW_OP_plus  (bytes as readelf shows them for any PIE)
PLT_CFA = bytes.fromhex("770880003f1a3b2a332422")


def _regs(**values: int) -> list[int | None]:
    regs: list[int | None] = [None] * REGISTER_COUNT
    regs[RSP] = values.get("rsp")
    regs[RIP] = values.get("rip")
    return regs


def _no_memory(address: int, size: int) -> int:
    raise StackReadError(hex(address))


@pytest.mark.parametrize(
    ("rip_low", "expected_extra"),
    [(0x0, 0), (0x6, 0), (0xA, 0), (0xB, 8), (0xF, 8)],
)
def test_plt_cfa(rip_low: int, expected_extra: int) -> None:
    expression = DwarfExpression(PLT_CFA)
    regs = _regs(rsp=0x7FFF0000, rip=0x555555555030 + rip_low)
    assert expression.evaluate(regs, _no_memory) == 0x7FFF0000 + 8 + expected_extra


def test_deref_reads_through_the_reader() -> None:
    memory = {0x1000 + 160: 0xDEADBEEF}
    expression = DwarfExpression(bytes([0x77, 0xA0, 0x01, 0x06]))  # breg7 160; deref
    assert expression.evaluate(_regs(rsp=0x1000), lambda a, s: memory[a]) == 0xDEADBEEF
    with pytest.raises(StackReadError):
        expression.evaluate(_regs(rsp=0x2000), _no_memory)


def test_initial_value_is_pushed_first() -> None:
    # DW_CFA_expression: the CFA is on the stack; plus_uconst 16 -> CFA + 16
    assert DwarfExpression(bytes([0x23, 0x10])).evaluate(_regs(), _no_memory, 0x5000) == 0x5010


def test_signed_comparisons_and_arithmetic() -> None:
    # const1s -1; lit0; lt  -> 1 (signed: -1 < 0)
    assert DwarfExpression(bytes([0x09, 0xFF, 0x30, 0x2D])).evaluate(_regs(), _no_memory) == 1
    # const1s -8; lit3; shra -> -1 (as u64)
    assert DwarfExpression(bytes([0x09, 0xF8, 0x33, 0x26])).evaluate(_regs(), _no_memory) == (1 << 64) - 1
    # lit5; lit7; minus -> -2 as u64 ; neg -> 2
    assert DwarfExpression(bytes([0x35, 0x37, 0x1C, 0x1F])).evaluate(_regs(), _no_memory) == 2
    # constu 300; lit4; mul; lit7; mod ; 1200 % 7
    assert (
        DwarfExpression(bytes([0x10, 0xAC, 0x02, 0x34, 0x1E, 0x37, 0x1D])).evaluate(_regs(), _no_memory)
        == 1200 % 7
    )


def test_branches() -> None:
    # lit1; bra +3 -> skip "lit9; skip +1"? Build: lit1; bra L; lit9; skip E; L: lit4; E:
    code = bytes([0x31, 0x28, 0x04, 0x00, 0x39, 0x2F, 0x01, 0x00, 0x34])
    assert DwarfExpression(code).evaluate(_regs(), _no_memory) == 4
    code = bytes([0x30, 0x28, 0x04, 0x00, 0x39, 0x2F, 0x01, 0x00, 0x34])
    assert DwarfExpression(code).evaluate(_regs(), _no_memory) == 9


def test_stack_operations() -> None:
    # lit1 lit2 lit3 rot -> [3,1,2]; swap -> [3,2,1]; over -> [3,2,1,2]; pick 3 -> ...,3; plus
    code = bytes([0x31, 0x32, 0x33, 0x17, 0x16, 0x14, 0x15, 0x03, 0x22])
    assert DwarfExpression(code).evaluate(_regs(), _no_memory) == 2 + 3


def test_unknown_register_and_bad_input() -> None:
    with pytest.raises(UnknownRegisterError):
        DwarfExpression(bytes([0x76, 0x00])).evaluate(_regs(), _no_memory)  # breg6 (rbp)
    with pytest.raises(UnwindTableError):
        DwarfExpression(bytes([0xE0]))  # not an operation CFI uses
    with pytest.raises(UnwindTableError):
        DwarfExpression(bytes([0x0C, 0x01]))  # const4u cut short
    with pytest.raises(UnwindTableError):
        DwarfExpression(bytes([0x2F, 0x05, 0x00, 0x30]))  # skip past the end
