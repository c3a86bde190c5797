"""The backend-private record of one sample with a user dump: kernel frames, fp chain, registers, stack.

The decoder makes one per cpu-clock sample when the event has PERF_SAMPLE_REGS_USER
and PERF_SAMPLE_STACK_USER (the tail's layout: decode/user_dump.py); it travels
through the time orderer like any event (it has ``time``) and is spooled to disk by
:class:`~stax_backend_linux.dwarf_callgraph.stack_sample_stream.DwarfSampleStream`, which later turns
it into a :class:`stax.events.Sample`.  The sink never sees one.
"""

from __future__ import annotations

from stax.events import IpTuple


class StackSample:
    """One sample before unwinding; ``regs`` are the raw u64 values (b'' if none), ``stack`` the
    filled part of the copy, whose first byte was at the sampled user rsp.  ``user_ips`` is the
    kernel's frame-pointer walk of the user stack (hybrid unwinding), () in ``--call-graph dwarf``."""

    __slots__ = ("time", "pid", "tid", "cpu", "weight", "kernel_ips", "user_ips", "regs", "stack")

    def __init__(self, time: int, pid: int, tid: int, cpu: int, weight: int, kernel_ips: IpTuple,
                 user_ips: IpTuple, regs: bytes, stack: bytes) -> None:
        self.time = time
        self.pid = pid
        self.tid = tid
        self.cpu = cpu
        self.weight = weight
        self.kernel_ips = kernel_ips
        self.user_ips = user_ips
        self.regs = regs
        self.stack = stack

    def __repr__(self) -> str:
        return (f"StackSample({self.time}, {self.pid}/{self.tid}, {len(self.kernel_ips)}k+"
                f"{len(self.user_ips)}u, {len(self.regs) // 8} regs, {len(self.stack)} stack bytes)")
