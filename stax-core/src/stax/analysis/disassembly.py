"""Machine code -> instructions through capstone, for x86_64 and aarch64.

The architecture is the one the code source read from the binary's header (ELF
``e_machine``; a Mach-O header maps to the same names), never the host's, so an
aarch64 recording annotates on an x86-64 machine.  x86 is printed in AT&T syntax, as
``objdump -d`` and ``perf annotate`` print it.  A new architecture is one
:class:`ArchSpec` in :data:`ARCHITECTURES`.

Decoding uses capstone's lite mode (no per-instruction detail objects, ~6x faster):
branch, call, return and system-call instructions are told apart by mnemonic, and a
direct target is the immediate operand, both described per architecture below.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import attrs
import capstone

from stax.errors import StaxError
from stax.function_code import ARCH_AARCH64, ARCH_X86_64


class InstructionKind:
    """What an instruction does to control flow (``Instruction.kind``)."""

    PLAIN = ""
    CALL = "call"
    BRANCH = "branch"
    RETURN = "return"
    SYSCALL = "syscall"
    INVALID = "invalid"


@attrs.frozen(slots=True)
class Instruction:
    """One decoded instruction; ``target`` is a direct branch or call destination."""

    address: int
    size: int
    mnemonic: str
    operands: str
    kind: str = InstructionKind.PLAIN
    target: int | None = None


@attrs.frozen(slots=True)
class ArchSpec:
    """How capstone decodes one architecture and how its control flow is spelled."""

    name: str
    cs_arch: int
    cs_mode: int
    syntax: int | None
    invalid_size: int
    """Bytes skipped after an undecodable instruction (objdump's ``(bad)`` / ``.inst``)."""
    classify: Callable[[str, str], tuple[str, int | None]]
    """(mnemonic, operands) -> (kind, direct target or None)."""
    branch_starts: tuple[str, ...]
    """How every branch or call mnemonic begins: a cheap filter before :attr:`classify`."""


_HEX_TARGET = re.compile(r"^#?(0x[0-9a-f]+|\d+)$")


def _immediate(text: str) -> int | None:
    match = _HEX_TARGET.match(text.strip())
    return int(match.group(1), 0) if match else None


def _x86_classify(mnemonic: str, operands: str) -> tuple[str, int | None]:
    # Capstone's AT&T mnemonics carry size suffixes (callq, retq, jmpq); prefixes such as
    # "bnd" or "notrack" come first.  A direct target is a bare immediate; an indirect one
    # starts with "*".
    word = mnemonic.split()[-1] if mnemonic else ""
    if word in ("syscall", "sysenter", "int", "int3", "int1", "into"):
        return InstructionKind.SYSCALL, None
    if word.startswith("call") or word == "lcall":
        return InstructionKind.CALL, _immediate(operands)
    if word.startswith("ret") or word in ("iret", "iretq", "iretl", "sysret", "sysretq", "sysexit"):
        return InstructionKind.RETURN, None
    if word.startswith("j") or word.startswith("loop") or word == "xbegin":
        return InstructionKind.BRANCH, _immediate(operands)
    return InstructionKind.PLAIN, None


_A64_BRANCHES = frozenset({"b", "br", "braa", "brab", "braaz", "brabz", "cbz", "cbnz", "tbz", "tbnz"})
_A64_CALLS = frozenset({"bl", "blr", "blraa", "blrab", "blraaz", "blrabz"})
_A64_RETURNS = frozenset({"ret", "retaa", "retab", "eret"})


def _aarch64_classify(mnemonic: str, operands: str) -> tuple[str, int | None]:
    last = operands.rsplit(",", 1)[-1] if operands else ""
    if mnemonic in _A64_CALLS:
        return InstructionKind.CALL, _immediate(last)
    if mnemonic in _A64_RETURNS:
        return InstructionKind.RETURN, None
    if mnemonic in _A64_BRANCHES or mnemonic.startswith("b."):
        return InstructionKind.BRANCH, _immediate(last)
    if mnemonic in ("svc", "hvc", "smc", "brk"):
        return InstructionKind.SYSCALL, None
    return InstructionKind.PLAIN, None


ARCHITECTURES: dict[str, ArchSpec] = {
    ARCH_X86_64: ArchSpec(ARCH_X86_64, capstone.CS_ARCH_X86, capstone.CS_MODE_64,
                          capstone.CS_OPT_SYNTAX_ATT, 1, _x86_classify,
                          ("j", "call", "loop", "xbegin", "bnd", "notrack")),
    ARCH_AARCH64: ArchSpec(ARCH_AARCH64, capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM, None, 4,
                           _aarch64_classify, ("b", "cb", "tb")),
}


class Disassembler:
    """Decodes code of one architecture; one per architecture is enough (see :func:`disassembler`)."""

    def __init__(self, spec: ArchSpec) -> None:
        self.spec = spec
        self._cs = capstone.Cs(spec.cs_arch, spec.cs_mode)
        if spec.syntax is not None:
            self._cs.syntax = spec.syntax

    def decode(self, code: bytes, address: int) -> list[Instruction]:
        """Every instruction of ``code`` placed at ``address``; undecodable bytes become
        ``(bad)`` instructions so decoding carries on after them, as objdump does."""
        spec = self.spec
        classify = spec.classify
        out: list[Instruction] = []
        position = 0
        size = len(code)
        while position < size:
            chunk = code[position:]
            decoded = 0
            for insn_address, insn_size, mnemonic, operands in self._cs.disasm_lite(
                    chunk, address + position):
                kind, target = classify(mnemonic, operands)
                out.append(Instruction(insn_address, insn_size, mnemonic, operands, kind, target))
                decoded += insn_size
            position += decoded
            if position < size:
                bad = min(spec.invalid_size, size - position)
                out.append(Instruction(address + position, bad, "(bad)", "", InstructionKind.INVALID))
                position += bad
        return out


    def direct_targets(self, code: bytes, address: int) -> list[int]:
        """The destinations of the direct branches and calls in ``code`` (no instruction objects:
        this runs over every kept function at the end of ``stax record``)."""
        spec = self.spec
        starts, classify = spec.branch_starts, spec.classify
        out: list[int] = []
        position = 0
        while position < len(code):
            for _, size, mnemonic, operands in self._cs.disasm_lite(code[position:], address + position):
                position += size
                if mnemonic.startswith(starts):
                    target = classify(mnemonic, operands)[1]
                    if target is not None:
                        out.append(target)
            else:
                position += spec.invalid_size  # past an undecodable instruction (or the end)
        return out


_DISASSEMBLERS: dict[str, Disassembler] = {}


def disassembler(arch: str) -> Disassembler:
    """The disassembler for ``arch`` (``x86_64``, ``aarch64``); one sentence for anything else."""
    found = _DISASSEMBLERS.get(arch)
    if found is None:
        spec = ARCHITECTURES.get(arch)
        if spec is None:
            known = ", ".join(sorted(ARCHITECTURES))
            raise UnsupportedArchitecture(
                f"Cannot disassemble {arch or 'unknown'} code; stax decodes {known}.")
        found = _DISASSEMBLERS[arch] = Disassembler(spec)
    return found


class UnsupportedArchitecture(StaxError):
    """Code of an instruction set stax has no decoder for."""
