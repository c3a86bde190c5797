"""What ``--call-graph dwarf[,SIZE]`` and ``fp[,SIZE]`` ask of the kernel: user registers and a stack copy.

With PERF_SAMPLE_REGS_USER the kernel writes the user-mode registers of the sampled
thread (the ones ``sample_regs_user`` selects), and with PERF_SAMPLE_STACK_USER a copy
of ``sample_stack_user`` bytes of its stack from the user rsp upward
(perf_event_open(2)).  That is everything the CFI unwinder needs to walk the user
stack after the capture, so ``exclude_callchain_user`` stops the kernel from also
walking frame pointers (as perf does for ``--call-graph dwarf``); the kernel part of
the callchain is still recorded.

Size trade-off: every sample carries ~SIZE + 160 bytes in the ring (the kernel
reserves the whole requested size in the record even when the stack is shallower),
so 8192 (perf's default) at 999 Hz is ~8 MB/s per busy CPU of ring traffic; the
spool keeps only the bytes the kernel filled.  Larger SIZE reaches deeper stacks.

Hybrid unwinding (``--call-graph fp``, the default) asks for the same two fields, but
only ip, sp and bp and a small copy (:data:`HYBRID_STACK_SIZE`), and keeps the kernel's
frame-pointer walk of the user stack (``exclude_callchain_user`` stays clear): after the
capture the leaf frames are unwound with CFI until they meet that chain, which is then
spliced on (docs/unwinding.md).
"""

from __future__ import annotations

from typing import Any

import attrs

from stax_binfmt.perf_event_attr import PERF_SAMPLE_REGS_USER, PERF_SAMPLE_STACK_USER, flag_word
from stax_binfmt.perf_regs import PERF_REGS_USER_MASK_X86_64, hybrid_regs_mask, user_regs_mask

DEFAULT_STACK_SIZE = 8192
"""perf record's default ``--call-graph dwarf`` dump size."""
MAX_STACK_SIZE = 65528
"""perf_copy_attr() refuses ``sample_stack_user >= USHRT_MAX`` or not 8-byte aligned: the
whole sample must fit the u16 ``perf_event_header.size``."""
MIN_STACK_SIZE = 8
HYBRID_STACK_SIZE = 512
"""The default copy of hybrid unwinding: enough for the leaf frames of libc's routines and
syscall wrappers to reach their caller's frame pointer (measured in docs/unwinding.md)."""


def stack_size_for(requested: int) -> int:
    """The ``sample_stack_user`` for a requested SIZE: rounded down to 8, within [8, 65528].

    Raises ValueError for a size outside that range (``stax record`` already refuses it
    with a sentence; this guards other callers of the backend).
    """
    if not MIN_STACK_SIZE <= requested <= MAX_STACK_SIZE:
        raise ValueError(f"a DWARF stack copy of {requested} bytes is outside "
                         f"{MIN_STACK_SIZE}..{MAX_STACK_SIZE}")
    return requested & ~7


@attrs.frozen(slots=True)
class DwarfSampling:
    """The DWARF call-graph settings of one recording (stax unwinds x86-64 only)."""

    stack_size: int = DEFAULT_STACK_SIZE
    regs_mask: int = PERF_REGS_USER_MASK_X86_64
    """The ``sample_regs_user`` mask (:mod:`.perf_regs`): x86-64's unless built for another machine."""
    user_callchain: bool = False
    """Hybrid unwinding: the kernel still walks the user frame pointers (only the leaf frames
    are unwound from the copy); False for ``--call-graph dwarf`` (``exclude_callchain_user``)."""

    @classmethod
    def for_size(cls, requested: int) -> DwarfSampling:
        return cls(stack_size_for(requested))

    @classmethod
    def for_machine(cls, stack_size: int, machine: str | None = None) -> DwarfSampling:
        """The dump for ``machine`` (this one by default): its registers, ``stack_size`` bytes."""
        return cls(stack_size, user_regs_mask(machine))

    @classmethod
    def hybrid(cls, stack_size: int = HYBRID_STACK_SIZE, machine: str | None = None) -> DwarfSampling:
        """Hybrid unwinding's dump for ``machine``: ip, sp, bp and ``stack_size`` bytes, fp chain kept."""
        return cls(stack_size_for(stack_size), hybrid_regs_mask(machine), user_callchain=True)

    @property
    def regs_count(self) -> int:
        """How many u64 register values follow the ABI word in each sample."""
        return self.regs_mask.bit_count()

    def apply(self, attr: Any) -> Any:
        """Add the register and stack dump to a sampling ``perf_event_attr`` (returned for chaining).

        Their fields follow CALLCHAIN in the sample record (REGS_USER, then STACK_USER), so
        the decoder's fixed layout up to the callchain is unchanged.
        """
        attr.sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER
        attr.sample_regs_user = self.regs_mask
        attr.sample_stack_user = self.stack_size
        if not self.user_callchain:
            attr.flags |= flag_word(["exclude_callchain_user"])
        return attr

    def bytes_per_sample(self) -> int:
        """Ring bytes a DWARF sample adds: ABI word, registers, size, the copy, dyn_size."""
        return 8 + 8 * self.regs_count + 8 + self.stack_size + 8
