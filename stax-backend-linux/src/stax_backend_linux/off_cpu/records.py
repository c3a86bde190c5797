"""The backend-private records between the decoder and the off-CPU trackers.

The decoder turns PERF_RECORD_SWITCH(_CPU_WIDE), context-switch samples and
sched_waking samples into these; they travel through the time orderer like any
event (each has ``time``) and :class:`~stax_backend_linux.off_cpu.stream.OffCpuStream`
replaces them with :class:`stax.events.OffCpuInterval` and :class:`stax.events.Wakeup`
before the sink sees anything.  Plain slotted classes: one is made per switch, so
construction must be cheap.
"""

from __future__ import annotations

from stax.events import IpTuple, OffCpuInterval


class SwitchRecord:
    """A thread switched out (``out``) or in on ``cpu`` at ``time``.

    ``preempted`` is PERF_RECORD_MISC_SWITCH_OUT_PREEMPT: the thread was still runnable.
    """

    __slots__ = ("time", "pid", "tid", "cpu", "out", "preempted")

    def __init__(self, time: int, pid: int, tid: int, cpu: int, out: bool, preempted: bool) -> None:
        self.time = time
        self.pid = pid
        self.tid = tid
        self.cpu = cpu
        self.out = out
        self.preempted = preempted

    def __repr__(self) -> str:
        way = ("out-preempt" if self.preempted else "out") if self.out else "in"
        return f"SwitchRecord({self.time}, {self.pid}/{self.tid}, cpu {self.cpu}, {way})"


class SwitchStack:
    """The context-switches sample taken as ``tid`` left the CPU: its stack at switch-out.

    ``regs`` and ``stack`` are the user register and stack dump (decode/user_dump.py) when the
    recording unwinds user stacks after capture (``--call-graph fp`` or ``dwarf``), else b"".
    """

    __slots__ = ("time", "pid", "tid", "cpu", "kernel_ips", "user_ips", "regs", "stack")

    def __init__(self, time: int, pid: int, tid: int, cpu: int, kernel_ips: IpTuple, user_ips: IpTuple,
                 regs: bytes = b"", stack: bytes = b"") -> None:
        self.time = time
        self.pid = pid
        self.tid = tid
        self.cpu = cpu
        self.kernel_ips = kernel_ips
        self.user_ips = user_ips
        self.regs = regs
        self.stack = stack

    def __repr__(self) -> str:
        frames = f"{len(self.kernel_ips)}k+{len(self.user_ips)}u"
        return f"SwitchStack({self.time}, {self.pid}/{self.tid}, {frames})"


class WakingRecord:
    """A sched_waking hit: ``waker_tid`` (the sample's task) made ``wakee_tid`` runnable."""

    __slots__ = ("time", "cpu", "waker_pid", "waker_tid", "wakee_tid", "kernel_ips", "user_ips")

    def __init__(self, time: int, cpu: int, waker_pid: int, waker_tid: int, wakee_tid: int,
                 kernel_ips: IpTuple, user_ips: IpTuple) -> None:
        self.time = time
        self.cpu = cpu
        self.waker_pid = waker_pid
        self.waker_tid = waker_tid
        self.wakee_tid = wakee_tid
        self.kernel_ips = kernel_ips
        self.user_ips = user_ips

    def __repr__(self) -> str:
        return f"WakingRecord({self.time}, {self.waker_pid}/{self.waker_tid} -> {self.wakee_tid})"


OffCpuRecord = SwitchRecord | SwitchStack | WakingRecord
OFF_CPU_RECORD_TYPES = (SwitchRecord, SwitchStack, WakingRecord)


class DumpedInterval:
    """An off-CPU interval whose switch-out sample carried a user register/stack dump.

    The switch tracker emits it instead of a bare :class:`stax.events.OffCpuInterval` when the
    recording unwinds user stacks after capture (``--call-graph fp`` hybrid or ``dwarf``); the
    unwinding stage (dwarf_callgraph/stack_sample_stream.py) spools it and delivers the interval
    with its user stack unwound.  The sink never sees one.
    """

    __slots__ = ("interval", "pid", "regs", "stack")

    def __init__(self, interval: OffCpuInterval, regs: bytes, stack: bytes) -> None:
        self.interval = interval
        self.pid = interval.pid
        self.regs = regs
        self.stack = stack

    def __repr__(self) -> str:
        return f"DumpedInterval({self.interval!r}, {len(self.regs) // 8} regs, {len(self.stack)} stack bytes)"
