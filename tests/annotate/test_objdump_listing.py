"""The objdump comparison removes formatting differences only: different instructions still differ."""

from __future__ import annotations

import pytest

from tests.annotate.objdump_listing import instructions_agree


@pytest.mark.parametrize(("ours", "theirs"), [
    (("movq", "%rdi, %rsi"), ("mov", "%rdi,%rsi")),
    (("andl", "$7, %eax"), ("and", "$0x7,%eax")),
    (("nopl", "(%rax, %rax)"), ("nopl", "0x0(%rax,%rax,1)")),
    (("jle", "0x12ab"), ("jle", "12ab <hot_loop+0x6b>")),
    (("callq", "0x12b0"), ("call", "12b0 <nap_once>")),
    (("cmpl", "$-1, %eax"), ("cmp", "$0xffffffff,%eax")),
    (("shrq", "$1, %rbx"), ("shr", "%rbx")),
    (("nopw", "%cs:(%rax, %rax)"), ("data16 cs nopw", "0x0(%rax,%rax,1)")),
    (("movsd", "0xdc0(%rip), %xmm4"), ("movsd", "0xdc0(%rip),%xmm4        # 2010 <x+0x10>")),
])
def test_same_instruction_x86_64(ours: tuple[str, str], theirs: tuple[str, str]) -> None:
    assert instructions_agree("x86_64", ours, theirs)


@pytest.mark.parametrize(("ours", "theirs"), [
    (("movq", "%rdi, %rsi"), ("mov", "%rsi,%rdi")),       # operands swapped
    (("movl", "%edi, %esi"), ("mov", "%rdi,%rsi")),       # suffix disagrees with the registers
    (("addq", "$0x10, %rax"), ("sub", "$0x10,%rax")),     # another operation
    (("andl", "$7, %eax"), ("and", "$0x8,%eax")),         # another immediate
    (("jle", "0x12ab"), ("jle", "12ac <hot_loop+0x6c>")), # another target
    (("nopl", "(%rax, %rax)"), ("nopl", "0x8(%rax,%rax,1)")),
    (("cmpq", "$-1, %rax"), ("cmp", "$0xffffffff,%rax")),  # 64-bit: -1 is not 0xffffffff
])
def test_different_instruction_x86_64(ours: tuple[str, str], theirs: tuple[str, str]) -> None:
    assert not instructions_agree("x86_64", ours, theirs)


@pytest.mark.parametrize(("ours", "theirs", "same"), [
    (("stp", "x29, x30, [sp, #-0x10]!"), ("stp", "x29, x30, [sp, #-16]!"), True),
    (("mov", "x3, #0"), ("mov", "x3, #0x0                   \t// #0"), True),
    (("b.ne", "#0x400180"), ("b.ne", "400180 <sum_squares+0x20>  // b.any"), True),
    (("fmov", "d2, #2.50000000"), ("fmov", "d2, #2.500000000000000000e+00"), True),
    (("bl", "#0x400150"), ("bl", "400150 <helper>"), True),
    (("add", "w0, w0, #1"), ("add", "w0, w0, #0x2"), False),
    (("b.ne", "#0x400180"), ("b.eq", "400180 <sum_squares+0x20>"), False),
    (("ldr", "w0, [x2], #4"), ("ldr", "w0, [x2, #4]"), False),  # post- vs pre-index
])
def test_aarch64(ours: tuple[str, str], theirs: tuple[str, str], same: bool) -> None:
    assert instructions_agree("aarch64", ours, theirs) is same

