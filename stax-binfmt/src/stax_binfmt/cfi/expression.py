"""A DWARF expression evaluator for the operations call-frame information uses.

DWARF 5 §2.5 (DWARF Expressions) and §6.4.2 (the CFA rules that carry them):
``DW_CFA_def_cfa_expression`` evaluates to the CFA; ``DW_CFA_expression`` and
``DW_CFA_val_expression`` start with the CFA pushed and evaluate to an address
(resp. the value) of a register.  Examples this must run: glibc's ``__restore_rt``
(``DW_OP_breg7 160; DW_OP_deref``) and the lazy PLT entry
(``rsp + 8 + ((rip & 15) >= 11) * 8``).

Expressions are decoded once into a tuple of (opcode, operand) and evaluated on a
Python list; the arithmetic is on 64-bit two's-complement values (§2.5.1: the
generic type is an address-sized integral type).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

from stax_binfmt.cfi.errors import UnknownRegisterError, UnwindTableError
from stax_binfmt.leb128 import read_sleb128, read_uleb128

MASK64 = (1 << 64) - 1
SIGN64 = 1 << 63

# DWARF 5 §7.7.1, Table 7.9
DW_OP_addr = 0x03
DW_OP_deref = 0x06
DW_OP_const1u = 0x08
DW_OP_const1s = 0x09
DW_OP_const2u = 0x0A
DW_OP_const2s = 0x0B
DW_OP_const4u = 0x0C
DW_OP_const4s = 0x0D
DW_OP_const8u = 0x0E
DW_OP_const8s = 0x0F
DW_OP_constu = 0x10
DW_OP_consts = 0x11
DW_OP_dup = 0x12
DW_OP_drop = 0x13
DW_OP_over = 0x14
DW_OP_pick = 0x15
DW_OP_swap = 0x16
DW_OP_rot = 0x17
DW_OP_abs = 0x19
DW_OP_and = 0x1A
DW_OP_div = 0x1B
DW_OP_minus = 0x1C
DW_OP_mod = 0x1D
DW_OP_mul = 0x1E
DW_OP_neg = 0x1F
DW_OP_not = 0x20
DW_OP_or = 0x21
DW_OP_plus = 0x22
DW_OP_plus_uconst = 0x23
DW_OP_shl = 0x24
DW_OP_shr = 0x25
DW_OP_shra = 0x26
DW_OP_xor = 0x27
DW_OP_bra = 0x28
DW_OP_eq = 0x29
DW_OP_ge = 0x2A
DW_OP_gt = 0x2B
DW_OP_le = 0x2C
DW_OP_lt = 0x2D
DW_OP_ne = 0x2E
DW_OP_skip = 0x2F
DW_OP_lit0 = 0x30
DW_OP_lit31 = 0x4F
DW_OP_reg0 = 0x50
DW_OP_reg31 = 0x6F
DW_OP_breg0 = 0x70
DW_OP_breg31 = 0x8F
DW_OP_regx = 0x90
DW_OP_bregx = 0x92
DW_OP_deref_size = 0x94
DW_OP_nop = 0x96

_FIXED_CONSTANTS = {
    DW_OP_const1u: struct.Struct("<B"),
    DW_OP_const1s: struct.Struct("<b"),
    DW_OP_const2u: struct.Struct("<H"),
    DW_OP_const2s: struct.Struct("<h"),
    DW_OP_const4u: struct.Struct("<I"),
    DW_OP_const4s: struct.Struct("<i"),
    DW_OP_const8u: struct.Struct("<Q"),
    DW_OP_const8s: struct.Struct("<q"),
    DW_OP_addr: struct.Struct("<Q"),
}

# Decoded operations: (kind, a, b).  Kinds are small ints private to this module.
_PUSH, _BREG, _DEREF, _BINARY, _UNARY, _STACK, _BRANCH, _PLUS_CONST, _REG = range(9)

Op = tuple[int, int, int]
ReadMemory = Callable[[int, int], int]
"""``read_memory(address, size)`` -> unsigned little-endian value, or raise StackReadError."""


def _signed(value: int) -> int:
    return value - (1 << 64) if value & SIGN64 else value


def _binary(op: int, a: int, b: int) -> int:
    """``a`` is the second entry from the top, ``b`` the top (§2.5.1.4)."""
    if op == DW_OP_plus:
        return a + b
    if op == DW_OP_minus:
        return a - b
    if op == DW_OP_and:
        return a & b
    if op == DW_OP_or:
        return a | b
    if op == DW_OP_xor:
        return a ^ b
    if op == DW_OP_mul:
        return a * b
    if op == DW_OP_shl:
        return a << b if b < 64 else 0
    if op == DW_OP_shr:
        return a >> b
    if op == DW_OP_shra:
        return _signed(a) >> min(b, 63)
    if op in (DW_OP_div, DW_OP_mod):
        if b == 0:
            raise UnwindTableError("DWARF expression divides by zero")
        if op == DW_OP_div:
            sa, sb = _signed(a), _signed(b)
            quotient = abs(sa) // abs(sb)
            return quotient if (sa < 0) == (sb < 0) else -quotient
        return a % b
    # comparisons are signed (§2.5.1.5)
    sa, sb = _signed(a), _signed(b)
    if op == DW_OP_eq:
        return int(sa == sb)
    if op == DW_OP_ne:
        return int(sa != sb)
    if op == DW_OP_ge:
        return int(sa >= sb)
    if op == DW_OP_gt:
        return int(sa > sb)
    if op == DW_OP_le:
        return int(sa <= sb)
    if op == DW_OP_lt:
        return int(sa < sb)
    raise UnwindTableError(f"unsupported DWARF operation {op:#x}")


_BINARY_OPS = frozenset(
    {DW_OP_plus, DW_OP_minus, DW_OP_and, DW_OP_or, DW_OP_xor, DW_OP_mul, DW_OP_shl, DW_OP_shr,
     DW_OP_shra, DW_OP_div, DW_OP_mod, DW_OP_eq, DW_OP_ne, DW_OP_ge, DW_OP_gt, DW_OP_le, DW_OP_lt}
)  # fmt: skip


class DwarfExpression:
    """A decoded DWARF expression, ready to evaluate many times."""

    __slots__ = ("ops", "source")

    def __init__(self, source: bytes) -> None:
        self.source = bytes(source)
        self.ops: tuple[Op, ...] = _decode(self.source)

    def __repr__(self) -> str:
        return f"DwarfExpression({self.source.hex()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DwarfExpression) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)

    def evaluate(
        self,
        registers: Sequence[int | None],
        read_memory: ReadMemory,
        initial: int | None = None,
    ) -> int:
        """Run the expression; ``initial`` (the CFA, for register rules) is pushed first.

        Raises :class:`UnknownRegisterError` if it reads a register whose value is
        unknown, and whatever ``read_memory`` raises for memory it cannot read.
        """
        stack: list[int] = [] if initial is None else [initial]
        ops = self.ops
        index = 0
        count = len(ops)
        while index < count:
            kind, a, b = ops[index]
            index += 1
            if kind == _BREG:
                value = registers[a] if a < len(registers) else None
                if value is None:
                    raise UnknownRegisterError(f"DWARF expression reads unknown register {a}")
                stack.append((value + b) & MASK64)
            elif kind == _PUSH:
                stack.append(a & MASK64)
            elif kind == _PLUS_CONST:
                stack.append((stack.pop() + a) & MASK64)
            elif kind == _BINARY:
                top = stack.pop()
                stack.append(_binary(a, stack.pop(), top) & MASK64)
            elif kind == _DEREF:
                stack.append(read_memory(stack.pop(), a))
            elif kind == _UNARY:
                value = stack.pop()
                if a == DW_OP_neg:
                    value = -value
                elif a == DW_OP_not:
                    value = ~value
                elif a == DW_OP_abs:
                    value = abs(_signed(value))
                stack.append(value & MASK64)
            elif kind == _STACK:
                if a == DW_OP_dup:
                    stack.append(stack[-1])
                elif a == DW_OP_drop:
                    stack.pop()
                elif a == DW_OP_over:
                    stack.append(stack[-2])
                elif a == DW_OP_pick:
                    stack.append(stack[-1 - b])
                elif a == DW_OP_swap:
                    stack[-1], stack[-2] = stack[-2], stack[-1]
                elif a == DW_OP_rot:
                    stack[-1], stack[-2], stack[-3] = stack[-2], stack[-3], stack[-1]
            elif kind == _BRANCH:
                if a == DW_OP_skip or stack.pop() != 0:
                    index = b
            elif kind == _REG:
                raise UnwindTableError("DW_OP_reg* (a register location) is not valid in CFI")
        if not stack:
            raise UnwindTableError("DWARF expression left an empty stack")
        return stack[-1]


def _decode(source: bytes) -> tuple[Op, ...]:
    """Decode the byte stream into ops; branch targets become op indices."""
    ops: list[Op] = []
    offsets: list[int] = []
    branches: list[tuple[int, int]] = []  # (op index, target byte offset)
    pos = 0
    end = len(source)
    try:
        while pos < end:
            offsets.append(pos)
            op = source[pos]
            pos += 1
            if DW_OP_lit0 <= op <= DW_OP_lit31:
                ops.append((_PUSH, op - DW_OP_lit0, 0))
            elif DW_OP_breg0 <= op <= DW_OP_breg31:
                offset, pos = read_sleb128(source, pos)
                ops.append((_BREG, op - DW_OP_breg0, offset))
            elif op == DW_OP_bregx:
                register, pos = read_uleb128(source, pos)
                offset, pos = read_sleb128(source, pos)
                ops.append((_BREG, register, offset))
            elif DW_OP_reg0 <= op <= DW_OP_reg31 or op == DW_OP_regx:
                if op == DW_OP_regx:
                    _, pos = read_uleb128(source, pos)
                ops.append((_REG, 0, 0))
            elif op in _FIXED_CONSTANTS:
                fmt = _FIXED_CONSTANTS[op]
                ops.append((_PUSH, fmt.unpack_from(source, pos)[0], 0))
                pos += fmt.size
            elif op == DW_OP_constu:
                value, pos = read_uleb128(source, pos)
                ops.append((_PUSH, value, 0))
            elif op == DW_OP_consts:
                value, pos = read_sleb128(source, pos)
                ops.append((_PUSH, value, 0))
            elif op == DW_OP_plus_uconst:
                value, pos = read_uleb128(source, pos)
                ops.append((_PLUS_CONST, value, 0))
            elif op == DW_OP_deref:
                ops.append((_DEREF, 8, 0))
            elif op == DW_OP_deref_size:
                ops.append((_DEREF, source[pos], 0))
                pos += 1
            elif op in _BINARY_OPS:
                ops.append((_BINARY, op, 0))
            elif op in (DW_OP_neg, DW_OP_not, DW_OP_abs):
                ops.append((_UNARY, op, 0))
            elif op in (DW_OP_dup, DW_OP_drop, DW_OP_over, DW_OP_swap, DW_OP_rot):
                ops.append((_STACK, op, 0))
            elif op == DW_OP_pick:
                ops.append((_STACK, op, source[pos]))
                pos += 1
            elif op in (DW_OP_bra, DW_OP_skip):
                delta = struct.unpack_from("<h", source, pos)[0]
                pos += 2
                branches.append((len(ops), pos + delta))
                ops.append((_BRANCH, op, 0))
            elif op == DW_OP_nop:
                ops.append((_STACK, op, 0))
            else:
                raise UnwindTableError(f"unsupported DWARF operation {op:#x} in CFI expression")
    except (IndexError, struct.error) as exc:
        raise UnwindTableError("truncated DWARF expression") from exc
    offsets.append(end)
    for index, target in branches:
        if target not in offsets:
            raise UnwindTableError("DWARF expression branches into the middle of an operation")
        kind, op, _ = ops[index]
        ops[index] = (kind, op, offsets.index(target))
    return tuple(ops)
