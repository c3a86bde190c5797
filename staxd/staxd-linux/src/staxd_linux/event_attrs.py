"""The perf_event_attr of each named event set staxd can open.

Sampling reuses ``stax_backend_linux.perf_event_attr.sampling_attr`` so a staxd
grant records exactly what an in-process recording would.  The backend has no
builder yet for context switches, the sched_waking tracepoint or the counter
group, so those are built here with its ``new_attr`` (flag bits by name, from
``FLAG_BITS``); constants are from include/uapi/linux/perf_event.h.
"""

from __future__ import annotations

import platform
import time
from typing import Any

import attrs

from stax_backend_linux import perf_event_attr as pea

PERF_TYPE_TRACEPOINT = 2
PERF_TYPE_HW_CACHE = 3
PERF_COUNT_HW_INSTRUCTIONS = 1
PERF_COUNT_HW_BRANCH_MISSES = 5
PERF_COUNT_SW_CONTEXT_SWITCHES = 3
# PERF_TYPE_HW_CACHE config: id | (op << 8) | (result << 16)
PERF_COUNT_HW_CACHE_L1D = 0
PERF_COUNT_HW_CACHE_OP_READ = 0
PERF_COUNT_HW_CACHE_RESULT_MISS = 1
L1D_READ_MISS = (PERF_COUNT_HW_CACHE_L1D | PERF_COUNT_HW_CACHE_OP_READ << 8
                 | PERF_COUNT_HW_CACHE_RESULT_MISS << 16)

PERF_SAMPLE_RAW = 1 << 10
PERF_SAMPLE_REGS_USER = 1 << 12
PERF_SAMPLE_STACK_USER = 1 << 13

PERF_FORMAT_TOTAL_TIME_ENABLED = 1 << 0
PERF_FORMAT_TOTAL_TIME_RUNNING = 1 << 1
PERF_FORMAT_ID = 1 << 2
PERF_FORMAT_GROUP = 1 << 3
COUNTER_READ_FORMAT = (PERF_FORMAT_GROUP | PERF_FORMAT_ID | PERF_FORMAT_TOTAL_TIME_ENABLED
                       | PERF_FORMAT_TOTAL_TIME_RUNNING)

# User registers a DWARF unwinder needs, as perf --call-graph dwarf asks for them
# (arch/*/include/uapi/asm/perf_regs.h).  x86-64: AX..R15 (bits 0-23) minus the
# segment registers DS, ES, FS, GS (bits 12-15).  arm64: x0..x30, sp, pc (33 bits).
DWARF_REGS_USER = {"x86_64": (1 << 24) - 1 & ~(0xF << 12), "aarch64": (1 << 33) - 1, "arm64": (1 << 33) - 1}


@attrs.frozen(slots=True)
class CounterSpec:
    """One member of the hardware-counter group."""

    name: str
    type_: int
    config: int


#: The group, leader first: cycles, instructions, L1-D read misses, branch mispredicts.
COUNTER_GROUP = (
    CounterSpec("cycles", pea.PERF_TYPE_HARDWARE, pea.PERF_COUNT_HW_CPU_CYCLES),
    CounterSpec("instructions", pea.PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS),
    CounterSpec("L1-dcache-load-misses", PERF_TYPE_HW_CACHE, L1D_READ_MISS),
    CounterSpec("branch-misses", pea.PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES),
)


def _add_flags(attr: Any, names: list[str]) -> None:
    attr.flags |= pea.flag_word(names)


def _start_flags(start: str) -> list[str]:
    """``disabled``: the client enables with an ioctl; ``on_exec``: the kernel does at exec."""
    return {"disabled": ["disabled"], "enabled": [], "on_exec": ["disabled", "enable_on_exec"]}[start]


def _dwarf(attr: Any, stack_size: int) -> None:
    """Ask for the user registers and stack copy a userspace DWARF unwinder replays."""
    attr.sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER
    attr.sample_regs_user = DWARF_REGS_USER.get(platform.machine(), 0)
    attr.sample_stack_user = stack_size


def sampling(frequency: int, *, kernel: bool, inherit: bool, start: str, wakeup_bytes: int,
             call_graph: str, dwarf_stack_size: int) -> Any:
    """The cpu-clock sampling event, exactly as the in-process backend opens it, plus start/dwarf."""
    attr = pea.sampling_attr(frequency, kernel=kernel, enable_on_exec=start == "on_exec",
                             inherit=inherit, wakeup_bytes=wakeup_bytes)
    _add_flags(attr, _start_flags(start))
    if call_graph == "dwarf":
        _dwarf(attr, dwarf_stack_size)
    return attr


def context_switch(*, kernel: bool, inherit: bool, start: str, wakeup_bytes: int, call_graph: str,
                   dwarf_stack_size: int) -> Any:
    """The context-switches software event: a sample (with the stack) at every switch-out.

    ``sample_period`` 1 samples every switch; the ``context_switch`` bit adds
    PERF_RECORD_SWITCH in/out records, which give the off-CPU interval's exact ends.
    The switch happens in the kernel, so the event must not exclude kernel mode;
    without kernel stacks we drop the kernel part of the chain and the (kernel)
    sample IP instead.
    """
    sample_type = pea.SAMPLE_TYPE if kernel else pea.SAMPLE_TYPE & ~pea.PERF_SAMPLE_IP
    flags = ["sample_id_all", "use_clockid", "context_switch", "exclude_hv", "watermark",
             *_start_flags(start)]
    if not kernel:
        flags.append("exclude_callchain_kernel")
    if inherit:
        flags.append("inherit")
    attr = pea.new_attr(pea.PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES, flags,
                        sample_period=1, sample_type=sample_type, wakeup_watermark=wakeup_bytes,
                        clockid=time.CLOCK_MONOTONIC)
    if call_graph == "dwarf":
        _dwarf(attr, dwarf_stack_size)
    return attr


def sched_waking(tracepoint: int, *, kernel: bool, user_stacks: bool, start: str, wakeup_bytes: int) -> Any:
    """The sched:sched_waking tracepoint: who woke whom, with the waker's stack.

    It fires in the waker's context, so it is opened per CPU for every task and the
    wakee is in the raw data (field ``pid``).  ``user_stacks`` False drops the waker's
    user stack (the waker may be another user's process).
    """
    sample_type = pea.SAMPLE_TYPE | PERF_SAMPLE_RAW
    flags = ["sample_id_all", "use_clockid", "exclude_hv", "watermark", *_start_flags(start)]
    if not kernel:
        sample_type &= ~pea.PERF_SAMPLE_IP
        flags.append("exclude_callchain_kernel")
    if not user_stacks:
        flags.append("exclude_callchain_user")
    return pea.new_attr(PERF_TYPE_TRACEPOINT, tracepoint, flags, sample_period=1, sample_type=sample_type,
                        wakeup_watermark=wakeup_bytes, clockid=time.CLOCK_MONOTONIC)


def counter(spec: CounterSpec, *, leader: bool, kernel: bool, inherit: bool, start: str) -> Any:
    """One counting member of the group; only the leader carries the start flags."""
    flags = ["exclude_hv"]
    if leader:
        flags += _start_flags(start)
    if not kernel:
        flags.append("exclude_kernel")
    if inherit:
        flags.append("inherit")
    return pea.new_attr(spec.type_, spec.config, flags, read_format=COUNTER_READ_FORMAT)
