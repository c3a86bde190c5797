"""The backend-private record of one DWARF-mode sample: its kernel frames, user registers, stack copy.

The decoder makes one per cpu-clock sample when the event has PERF_SAMPLE_REGS_USER
and PERF_SAMPLE_STACK_USER; it travels through the time orderer like any event (it
has ``time``) and is spooled to disk by
:class:`~stax_backend_linux.dwarf_callgraph.stack_sample_stream.DwarfSampleStream`, which later turns
it into a :class:`stax.events.Sample`.  The sink never sees one.

Record layout after the callchain (perf_event_open(2), PERF_RECORD_SAMPLE)::

    u64 abi;                      # PERF_SAMPLE_REGS_ABI_NONE: no registers follow
    u64 regs[weight(mask)];       # lowest mask bit first
    u64 size;                     # 0 when there are no user registers (kernel thread)
    char data[size];
    u64 dyn_size;                 # how much of data the kernel really filled (if size)
"""

from __future__ import annotations

import struct

from stax.events import IpTuple

_U64 = struct.Struct("<Q")


class StackSample:
    """One sample before unwinding; ``regs`` are the raw u64 values (b'' if none), ``stack`` the
    filled part of the copy, whose first byte was at the sampled user rsp."""

    __slots__ = ("time", "pid", "tid", "cpu", "weight", "kernel_ips", "regs", "stack")

    def __init__(self, time: int, pid: int, tid: int, cpu: int, weight: int, kernel_ips: IpTuple,
                 regs: bytes, stack: bytes) -> None:
        self.time = time
        self.pid = pid
        self.tid = tid
        self.cpu = cpu
        self.weight = weight
        self.kernel_ips = kernel_ips
        self.regs = regs
        self.stack = stack

    def __repr__(self) -> str:
        return (f"StackSample({self.time}, {self.pid}/{self.tid}, {len(self.kernel_ips)}k, "
                f"{len(self.regs) // 8} regs, {len(self.stack)} stack bytes)")


class StackSampleLayout:
    """Reads the REGS_USER / STACK_USER tail of a sample, for one ``sample_regs_user`` mask."""

    __slots__ = ("regs_bytes",)

    def __init__(self, regs_count: int) -> None:
        self.regs_bytes = 8 * regs_count

    def record(self, chunk: bytes, at: int, time: int, pid: int, tid: int, cpu: int, weight: int,
               kernel_ips: IpTuple) -> StackSample:
        """The sample whose tail starts at ``chunk[at]`` (just after the callchain)."""
        unpack = _U64.unpack_from
        (abi,) = unpack(chunk, at)
        at += 8
        regs = b""
        if abi:
            regs = chunk[at:at + self.regs_bytes]
            at += self.regs_bytes
        (size,) = unpack(chunk, at)
        stack = b""
        if size:
            (filled,) = unpack(chunk, at + 8 + size)
            stack = chunk[at + 8:at + 8 + min(filled, size)]
        return StackSample(time, pid, tid, cpu, weight, kernel_ips, regs, stack)
