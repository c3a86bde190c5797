"""x86-64 register numbering: DWARF columns, and the names the unwinder accepts.

DWARF register numbers come from the System V AMD64 psABI, §3.6.2 "DWARF Register
Number Mapping" (Figure 3.36): rax=0, rdx=1, rcx=2, rbx=3, rsi=4, rdi=5, rbp=6,
rsp=7, r8..r15=8..15, and column 16 is the return address (rip).  Perf's own
numbering (:mod:`stax_binfmt.perf_regs`) is different; :class:`PerfRegisterLayout`
maps one to the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from stax_binfmt.perf_regs import PERF_REG_X86_NAMES

RAX, RDX, RCX, RBX, RSI, RDI, RBP, RSP = range(8)
R8, R9, R10, R11, R12, R13, R14, R15 = range(8, 16)
RIP = 16
"""The return-address column; the unwinder keeps the frame's pc in it."""
REGISTER_COUNT = 17

DWARF_REGISTER_NAMES: tuple[str, ...] = (
    "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip",
)  # fmt: skip

CALLEE_SAVED = (RBX, RBP, R12, R13, R14, R15)
"""psABI §3.2.1: these survive a call; every other general register is clobbered."""

_ALIASES = {name: number for number, name in enumerate(DWARF_REGISTER_NAMES)}
# perf / kernel pt_regs spellings
_ALIASES.update({"ax": RAX, "dx": RDX, "cx": RCX, "bx": RBX, "si": RSI, "di": RDI,
                 "bp": RBP, "sp": RSP, "ip": RIP, "pc": RIP})  # fmt: skip


def registers_from_names(regs: Mapping[str, int]) -> list[int | None]:
    """Turn ``{"rip": .., "rsp": .., ...}`` into a list indexed by DWARF column.

    Names are the x86-64 ones (``rax``, ``r12``, ``rip``) or perf's (``ax``, ``ip``);
    registers not given are ``None`` (unknown), which stops an unwind only if a rule
    needs them.
    """
    out: list[int | None] = [None] * REGISTER_COUNT
    aliases = _ALIASES
    for name, value in regs.items():
        number = aliases.get(name)
        if number is None:
            number = aliases.get(name.lower())
            if number is None:
                continue
        out[number] = value
    return out


class PerfRegisterLayout:
    """Turns PERF_SAMPLE_REGS_USER values straight into the DWARF-ordered list :func:`unwind`
    takes, without building a dict per sample (the positions depend only on the mask)."""

    __slots__ = ("mask", "_positions")

    def __init__(self, mask: int) -> None:
        self.mask = mask
        position_of_bit: dict[int, int] = {}
        index = 0
        for bit in range(64):
            if mask >> bit & 1:
                position_of_bit[bit] = index
                index += 1
        positions: list[int | None] = []
        for name in DWARF_REGISTER_NAMES:
            perf_name = {"rip": "ip"}.get(name, name[1:] if name[1:] in PERF_REG_X86_NAMES else name)
            bit = PERF_REG_X86_NAMES.index(perf_name)
            positions.append(position_of_bit.get(bit))
        self._positions = tuple(positions)

    def dwarf_registers(self, values: Sequence[int]) -> list[int | None]:
        """The register values of one sample, indexed by DWARF column (None: not sampled)."""
        count = len(values)
        return [values[p] if p is not None and p < count else None for p in self._positions]
