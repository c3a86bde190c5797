"""perf's user-register ABI: which registers PERF_SAMPLE_REGS_USER writes, per architecture.

``perf_event_attr.sample_regs_user`` is a bit mask over the architecture's perf register
enum (``arch/x86/include/uapi/asm/perf_regs.h``, ``arch/arm64/include/uapi/asm/perf_regs.h``);
the kernel writes one u64 per set bit, lowest bit first, after a u64 saying the ABI
(perf_event_open(2), PERF_SAMPLE_REGS_USER).  The masks here are what a CFI unwinder can
use, as ``perf record --call-graph dwarf`` asks for them; the one place both ``stax
record`` and staxd take them from.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence

# enum perf_sample_regs_abi: what the u64 before the register values says.
PERF_SAMPLE_REGS_ABI_NONE = 0
PERF_SAMPLE_REGS_ABI_32 = 1
PERF_SAMPLE_REGS_ABI_64 = 2

PERF_REG_X86_NAMES: tuple[str, ...] = (
    "ax", "bx", "cx", "dx", "si", "di", "bp", "sp", "ip", "flags",
    "cs", "ss", "ds", "es", "fs", "gs",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
)  # fmt: skip
"""Index = bit number in ``perf_event_attr.sample_regs_user`` (enum perf_event_x86_regs)."""

PERF_REGS_USER_MASK_X86_64 = sum(
    1 << PERF_REG_X86_NAMES.index(n)
    for n in ("ax", "bx", "cx", "dx", "si", "di", "bp", "sp", "ip",
              "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
)  # fmt: skip
"""x86-64: the general registers and ip; no flags or segment registers (the kernel rejects
ds/es/fs/gs in a user mask, and CFI never needs them)."""

PERF_REGS_USER_MASK_ARM64 = (1 << 33) - 1
"""arm64: x0..x30, sp, pc (enum perf_event_arm_regs)."""

PERF_REGS_HYBRID_MASK_X86_64 = sum(1 << PERF_REG_X86_NAMES.index(n) for n in ("bp", "sp", "ip"))
"""x86-64, hybrid unwinding (``--call-graph fp``): only what a leaf's CFI needs to reach the
first frame that keeps a frame pointer: ip, sp (CFA = rsp + N) and bp (CFA = rbp + 16)."""
PERF_REGS_HYBRID_MASK_ARM64 = (1 << 29) | (1 << 31) | (1 << 32)
"""arm64: x29 (the frame pointer), sp, pc."""

HYBRID_REGS_MASKS = {"x86_64": PERF_REGS_HYBRID_MASK_X86_64, "aarch64": PERF_REGS_HYBRID_MASK_ARM64,
                     "arm64": PERF_REGS_HYBRID_MASK_ARM64}

USER_REGS_MASKS = {"x86_64": PERF_REGS_USER_MASK_X86_64, "aarch64": PERF_REGS_USER_MASK_ARM64,
                   "arm64": PERF_REGS_USER_MASK_ARM64}


def user_regs_mask(machine: str | None = None) -> int:
    """The ``sample_regs_user`` mask for ``machine`` (this one by default); 0 where unknown."""
    return USER_REGS_MASKS.get(machine or platform.machine(), 0)


def hybrid_regs_mask(machine: str | None = None) -> int:
    """The ``sample_regs_user`` mask of hybrid unwinding for ``machine``; 0 where unknown."""
    return HYBRID_REGS_MASKS.get(machine or platform.machine(), 0)


def regs_from_perf(mask: int, values: Sequence[int]) -> dict[str, int]:
    """Name the values of an x86-64 PERF_SAMPLE_REGS_USER block (perf's names: ``ax``, ``ip``)."""
    out: dict[str, int] = {}
    index = 0
    bit = 0
    while mask >> bit:
        if mask >> bit & 1:
            if index >= len(values):
                break
            if bit < len(PERF_REG_X86_NAMES):
                out[PERF_REG_X86_NAMES[bit]] = values[index]
            index += 1
        bit += 1
    return out
