"""Building ``struct perf_event_attr``: the perf_event.h constants, flag bits set by name, and
the attr of each kind of event stax opens.

The kernel's attr has a 64-bit bitfield (``disabled:1, inherit:1, ...``).  Its bit
positions are fixed by the uapi ABI, so we declare the word as one ``uint64_t`` in
perf_event.h and OR in the bits listed here.  What an *event set* adds to these (how
it starts, the DWARF call-graph dump, what a user without kernel addresses must not
get) is :mod:`.perf_event_sets`, which ``stax record`` and staxd both open with.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from stax_binfmt.perf_event_ffi import ffi

# enum perf_type_id, perf_hw_id, perf_sw_ids, perf_hw_cache_* (perf_event.h).
PERF_TYPE_HARDWARE = 0
PERF_TYPE_SOFTWARE = 1
PERF_TYPE_TRACEPOINT = 2
PERF_TYPE_HW_CACHE = 3
PERF_COUNT_HW_CPU_CYCLES = 0
PERF_COUNT_HW_INSTRUCTIONS = 1
PERF_COUNT_HW_BRANCH_MISSES = 5
PERF_COUNT_SW_CPU_CLOCK = 0
PERF_COUNT_SW_CONTEXT_SWITCHES = 3
PERF_COUNT_SW_DUMMY = 9
PERF_COUNT_HW_CACHE_L1D = 0
PERF_COUNT_HW_CACHE_OP_READ = 0
PERF_COUNT_HW_CACHE_RESULT_MISS = 1
#: PERF_TYPE_HW_CACHE config = cache id | (op << 8) | (result << 16)
L1D_READ_MISS = (PERF_COUNT_HW_CACHE_L1D | PERF_COUNT_HW_CACHE_OP_READ << 8
                 | PERF_COUNT_HW_CACHE_RESULT_MISS << 16)

# enum perf_event_read_format (perf_event.h)
PERF_FORMAT_TOTAL_TIME_ENABLED = 1 << 0
PERF_FORMAT_TOTAL_TIME_RUNNING = 1 << 1
PERF_FORMAT_ID = 1 << 2
PERF_FORMAT_GROUP = 1 << 3
PERF_FORMAT_LOST = 1 << 4

# enum perf_event_sample_format: the order of these bits is also the order of the
# fields in a PERF_RECORD_SAMPLE (see record_decoder.py).
PERF_SAMPLE_IP = 1 << 0
PERF_SAMPLE_TID = 1 << 1
PERF_SAMPLE_TIME = 1 << 2
PERF_SAMPLE_ADDR = 1 << 3
PERF_SAMPLE_READ = 1 << 4
PERF_SAMPLE_CALLCHAIN = 1 << 5
PERF_SAMPLE_ID = 1 << 6
PERF_SAMPLE_CPU = 1 << 7
PERF_SAMPLE_PERIOD = 1 << 8
PERF_SAMPLE_STREAM_ID = 1 << 9
PERF_SAMPLE_RAW = 1 << 10
PERF_SAMPLE_BRANCH_STACK = 1 << 11
PERF_SAMPLE_REGS_USER = 1 << 12
PERF_SAMPLE_STACK_USER = 1 << 13
PERF_SAMPLE_IDENTIFIER = 1 << 16

#: The sample layout record_decoder.py decodes.
SAMPLE_TYPE = (PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU
               | PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN)

# Bit positions in perf_event_attr's flag word, in declaration order from perf_event.h.
FLAG_BITS: dict[str, int] = {
    "disabled": 0,
    "inherit": 1,
    "pinned": 2,
    "exclusive": 3,
    "exclude_user": 4,
    "exclude_kernel": 5,
    "exclude_hv": 6,
    "exclude_idle": 7,
    "mmap": 8,
    "comm": 9,
    "freq": 10,
    "inherit_stat": 11,
    "enable_on_exec": 12,
    "task": 13,
    "watermark": 14,
    # precise_ip is two bits, 15-16; we never ask for skid constraints.
    "mmap_data": 17,
    "sample_id_all": 18,
    "exclude_host": 19,
    "exclude_guest": 20,
    "exclude_callchain_kernel": 21,
    "exclude_callchain_user": 22,
    "mmap2": 23,
    "comm_exec": 24,
    "use_clockid": 25,
    "context_switch": 26,
    "write_backward": 27,
    "namespaces": 28,
    "ksymbol": 29,
    "bpf_event": 30,
    "aux_output": 31,
    "cgroup": 32,
    "text_poke": 33,
    "build_id": 34,
    "inherit_thread": 35,
    "remove_on_exec": 36,
    "sigtrap": 37,
}


def flag_word(names: Iterable[str]) -> int:
    """OR together the named flag bits; an unknown name is a programming error."""
    word = 0
    for name in names:
        word |= 1 << FLAG_BITS[name]
    return word


def flag_names(word: int) -> set[str]:
    """The names of the bits set in ``word`` (for tests and debugging)."""
    return {name for name, bit in FLAG_BITS.items() if word >> bit & 1}


def new_attr(type_: int, config: int, flags: Iterable[str] = (), **fields: int) -> Any:
    """A zeroed ``struct perf_event_attr *`` with ``size`` set, the flag bits, and ``fields``."""
    f = ffi()
    attr = f.new("struct perf_event_attr *")
    attr.type = type_
    attr.size = f.sizeof("struct perf_event_attr")
    attr.config = config
    attr.flags = flag_word(flags)
    for name, value in fields.items():
        setattr(attr, name, value)
    return attr


def sampling_attr(frequency: int, *, kernel: bool, enable_on_exec: bool, inherit: bool,
                  wakeup_bytes: int, max_stack: int = 0, identifier: bool = False,
                  event: tuple[int, int] = (PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK),
                  period: int | None = None) -> Any:
    """The sampling event stax records with (one per CPU): cpu-clock unless ``event`` gives
    another ``(type, config)`` (``-e``); with ``period`` one sample every ``period`` events
    (``-c``) instead of ``frequency`` samples a second.

    A software hrtimer event (PERF_COUNT_SW_CPU_CLOCK) works without a PMU, e.g. in VMs;
    with ``freq`` the kernel turns ``sample_freq`` into a fixed period of 1e9/freq ns,
    which each sample reports as PERF_SAMPLE_PERIOD.  ``sample_id_all`` appends
    pid/tid/time/cpu to the side-band records (MMAP2, COMM, ...) so they can be time
    ordered with samples; ``use_clockid`` puts every timestamp on CLOCK_MONOTONIC.
    ``identifier`` adds PERF_SAMPLE_IDENTIFIER, needed when other events share the ring
    (see :func:`context_switch_attr`).
    """
    flags = ["sample_id_all", "use_clockid", "mmap", "mmap2", "build_id", "comm",
             "comm_exec", "task", "watermark", "exclude_hv"]
    if period is None:
        flags.append("freq")
    if not kernel:
        # paranoid >= 2 without CAP_PERFMON: perf_event_open(2) fails with EACCES unless
        # the event excludes kernel mode (and then kernel callchains too).
        flags += ["exclude_kernel", "exclude_callchain_kernel"]
    if enable_on_exec:
        flags += ["disabled", "enable_on_exec"]
    if inherit:
        flags.append("inherit")
    return new_attr(
        *event, flags,
        sample_freq=frequency if period is None else period,
        sample_type=SAMPLE_TYPE | (PERF_SAMPLE_IDENTIFIER if identifier else 0),
        wakeup_watermark=wakeup_bytes, clockid=time.CLOCK_MONOTONIC, sample_max_stack=max_stack,
    )


#: The layout of every sample in a ring shared by several events: PERF_SAMPLE_IDENTIFIER
#: puts the event id first in a sample and last in the sample_id_all trailer of every
#: other record, so records can be told apart by event (perf_event.h, PERF_SAMPLE_IDENTIFIER).
SHARED_RING_SAMPLE_TYPE = SAMPLE_TYPE | PERF_SAMPLE_IDENTIFIER


def context_switch_attr(*, stacks: bool, kernel_callchain: bool, enable_on_exec: bool, inherit: bool,
                        wakeup_bytes: int) -> Any:
    """The event that reports every context switch of the target, for off-CPU intervals.

    ``context_switch`` makes the kernel write PERF_RECORD_SWITCH (per-task event) or
    PERF_RECORD_SWITCH_CPU_WIDE (pid -1) for every switch in and out, with
    PERF_RECORD_MISC_SWITCH_OUT on the way out and PERF_RECORD_MISC_SWITCH_OUT_PREEMPT
    when the task was still runnable (preempted).

    With ``stacks`` the event is the software PERF_COUNT_SW_CONTEXT_SWITCHES counter with
    ``sample_period`` 1: every switch-out also writes a sample whose callchain is the
    kernel stack at __schedule (the wait site) and the user stack at the syscall.  The
    kernel fetches the scheduler's own registers for that sample (perf_sw_event_sched),
    which are kernel-mode, so an ``exclude_kernel`` event never samples (perf_exclude_event):
    stacks need kernel mode, i.e. perf_event_paranoid <= 1 or CAP_PERFMON.
    ``kernel_callchain`` False still drops the kernel part of the chain.
    Without ``stacks`` it is a PERF_COUNT_SW_DUMMY event that only carries the switch records;
    that works for one's own processes at paranoid 2.
    """
    flags = ["sample_id_all", "use_clockid", "context_switch", "exclude_hv", "watermark"]
    if stacks:
        config, period = PERF_COUNT_SW_CONTEXT_SWITCHES, 1
        if not kernel_callchain:
            flags.append("exclude_callchain_kernel")
    else:
        config, period = PERF_COUNT_SW_DUMMY, 0
        flags += ["exclude_kernel", "exclude_callchain_kernel"]
    if enable_on_exec:
        flags += ["disabled", "enable_on_exec"]
    if inherit:
        flags.append("inherit")
    return new_attr(PERF_TYPE_SOFTWARE, config, flags, sample_period=period,
                    sample_type=SHARED_RING_SAMPLE_TYPE, wakeup_watermark=wakeup_bytes,
                    clockid=time.CLOCK_MONOTONIC)


def sched_waking_attr(tracepoint_id: int, *, kernel_callchain: bool, wakeup_bytes: int) -> Any:
    """The sched:sched_waking tracepoint, sampled at every hit, with the waker's stack.

    It fires in try_to_wake_up() in the waker's context, so the sample's pid/tid is the
    waker and PERF_SAMPLE_RAW carries the tracepoint record (the wakee's ``pid`` field;
    offsets from tracefs ``format``, see sched_waking.py).  The event is opened per CPU
    for every task (pid -1) and starts disabled: the session enables it with an ioctl.
    """
    flags = ["sample_id_all", "use_clockid", "exclude_hv", "watermark", "disabled"]
    if not kernel_callchain:
        flags.append("exclude_callchain_kernel")
    return new_attr(PERF_TYPE_TRACEPOINT, tracepoint_id, flags, sample_period=1,
                    sample_type=SHARED_RING_SAMPLE_TYPE | PERF_SAMPLE_RAW, wakeup_watermark=wakeup_bytes,
                    clockid=time.CLOCK_MONOTONIC)


def probe_attr(type_: int, config: int, *, exclude_kernel: bool) -> Any:
    """A minimal counting event, used only to ask the kernel whether something may be opened."""
    flags = ["disabled", "exclude_hv"] + (["exclude_kernel"] if exclude_kernel else [])
    return new_attr(type_, config, flags)
