"""The user register and stack dump at the end of a sample: the one reader of its layout.

With PERF_SAMPLE_REGS_USER and PERF_SAMPLE_STACK_USER (``--call-graph fp``, the default
hybrid unwinding, and ``--call-graph dwarf``) the kernel appends to each cpu-clock
sample and to each switch-out sample of the context-switch event, after the
callchain (perf_event_open(2), PERF_RECORD_SAMPLE)::

    u64 abi;                      # PERF_SAMPLE_REGS_ABI_NONE (0): no registers follow
    u64 regs[weight(mask)];       # sample_regs_user, lowest mask bit first
    u64 size;                     # sample_stack_user; 0 when there are no user registers
    char data[size];              # the user stack from the user sp upward
    u64 dyn_size;                 # how much of data the kernel really filled (if size)

For a switch-out sample the registers are the task's user registers saved at kernel
entry (the syscall that blocked), not the scheduler's: the kernel takes them from
``task_pt_regs`` whenever the sampled registers are kernel-mode.  Kernel stack bytes
never appear here: the copy starts at the *user* sp.  A kernel thread has no user
registers (abi 0, size 0).

sched_waking samples carry no dump (the waker may be another user's process).
Record decoders (record_decoder.py and the compiled scan, fast_decoder.py) hand the
offset just after the callchain to :meth:`UserDumpLayout.read`.
"""

from __future__ import annotations

import struct

_U64 = struct.Struct("<Q")


class UserDumpLayout:
    """Reads the REGS_USER / STACK_USER tail of a sample, for one ``sample_regs_user`` mask."""

    __slots__ = ("regs_bytes", "regs_mask")

    def __init__(self, regs_mask: int) -> None:
        self.regs_mask = regs_mask
        self.regs_bytes = 8 * regs_mask.bit_count()

    def read(self, chunk: bytes, at: int) -> tuple[bytes, bytes]:
        """(raw register values, filled stack bytes) of the tail at ``chunk[at]``; (b"", b"") when
        the task had no user context or the record is cut short."""
        try:
            (abi,) = _U64.unpack_from(chunk, at)
            at += 8
            regs = b""
            if abi:
                regs = chunk[at:at + self.regs_bytes]
                at += self.regs_bytes
            (size,) = _U64.unpack_from(chunk, at)
            stack = b""
            if size:
                (filled,) = _U64.unpack_from(chunk, at + 8 + size)
                stack = chunk[at + 8:at + 8 + min(filled, size)]
        except struct.error:
            return b"", b""
        if len(regs) != self.regs_bytes:
            return b"", b""
        return regs, stack
