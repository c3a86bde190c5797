"""The OS-neutral event stream every capture backend decodes into.

Each class is frozen and slotted: cheap to make, safe to share between observers.
Timestamps are nanoseconds on one monotonic clock per recording (Linux: the
perf clock, CLOCK_MONOTONIC; macOS: mach_absolute_time converted to ns).

Stacks arrive *raw* here, as instruction addresses leaf first, split into the
kernel part and the user part.  The recording builder resolves each address to an
(image, offset) pair and interns whole stacks (see :mod:`stax.stack_table`), so the
columnar :class:`stax.stack_table.SampleColumns` is what analyses and observers see.
"""

from __future__ import annotations

import enum

import attrs

from stax.blocked_reason import BlockedReason

IpTuple = tuple[int, ...]


class ImageKind(enum.StrEnum):
    """What sort of code an image holds; symbol sources pick the ones they can read."""

    ELF = "elf"
    """A file-backed ELF object: executable or shared library."""
    MACHO = "macho"
    KERNEL = "kernel"
    """The kernel and its modules (addresses are absolute)."""
    VDSO = "vdso"
    JIT = "jit"
    """Anonymous executable memory: JIT code, named by perf maps or jitdump."""
    UNKNOWN = "unknown"


@attrs.frozen(slots=True)
class Sample:
    """One on-CPU sample: the thread was running ``stack`` when the timer fired.

    ``weight`` is the sampling period: nanoseconds of CPU time the sample stands for, or a
    number of events when ``stax record -e`` sampled another event (page faults, switches).
    """

    time: int
    pid: int
    tid: int
    cpu: int
    weight: int
    kernel_ips: IpTuple = ()
    user_ips: IpTuple = ()
    user_stack_truncated: bool = False


@attrs.frozen(slots=True)
class OffCpuInterval:
    """A thread off the CPU from ``start`` to ``end`` (ns), with the stack at switch-out.

    ``reason`` is :data:`BlockedReason.PREEMPTED` for an involuntary switch: the thread
    was runnable and waiting for a CPU, which is never counted as blocked time.
    """

    start: int
    end: int
    pid: int
    tid: int
    cpu: int
    reason: BlockedReason
    wait_site: str = ""
    kernel_ips: IpTuple = ()
    user_ips: IpTuple = ()
    waker_tid: int | None = None


@attrs.frozen(slots=True)
class Wakeup:
    """``waker_tid`` made ``wakee_tid`` runnable at ``time``; the waker's stack at that moment."""

    time: int
    cpu: int
    waker_pid: int
    waker_tid: int
    wakee_pid: int
    wakee_tid: int
    kernel_ips: IpTuple = ()
    user_ips: IpTuple = ()


@attrs.frozen(slots=True)
class ImageLoad:
    """An executable mapping appeared in ``pid``'s address space (pid -1: the kernel's).

    ``file_offset`` is the offset in the file of the byte mapped at ``start``.
    """

    time: int
    pid: int
    start: int
    end: int
    file_offset: int
    path: str
    kind: ImageKind = ImageKind.ELF
    build_id: bytes | None = None


@attrs.frozen(slots=True)
class ThreadName:
    """A thread got a name: at creation, by prctl/pthread_setname, or by exec (``is_exec``).

    ``process`` says the name is also the process's.  On Linux the main thread (tid ==
    pid) names its process; macOS thread ids are never pids, so its backend says it here.
    """

    time: int
    pid: int
    tid: int
    name: str
    is_exec: bool = False
    process: bool = False


@attrs.frozen(slots=True)
class ThreadStart:
    """A thread (or, when ``pid == tid``, a process) was created by ``parent_tid``."""

    time: int
    pid: int
    tid: int
    parent_pid: int
    parent_tid: int


@attrs.frozen(slots=True)
class ThreadExit:
    time: int
    pid: int
    tid: int


@attrs.frozen(slots=True)
class CounterValues:
    """Hardware-counter totals for one thread, read at ``time`` (counter name -> value)."""

    time: int
    pid: int
    tid: int
    values: dict[str, int]


class LostKind(enum.StrEnum):
    LOST_RECORDS = "lost-records"
    """The kernel's ring buffer was full; ``count`` records were dropped."""
    THROTTLED = "throttled"
    """The kernel throttled sampling (perf_event_max_sample_rate); count = throttle events."""
    LOST_SAMPLES = "lost-samples"


@attrs.frozen(slots=True)
class LostNotice:
    """The backend knows it missed ``count`` records on ``cpu``."""

    time: int
    cpu: int
    kind: LostKind
    count: int


Event = (
    Sample
    | OffCpuInterval
    | Wakeup
    | ImageLoad
    | ThreadName
    | ThreadStart
    | ThreadExit
    | CounterValues
    | LostNotice
)
