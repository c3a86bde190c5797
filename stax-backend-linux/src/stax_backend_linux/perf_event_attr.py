"""Building ``struct perf_event_attr``: flag bits set by name, never by C bitfield layout.

The kernel's attr has a 64-bit bitfield (``disabled:1, inherit:1, ...``).  Its bit
positions are fixed by the uapi ABI, so we declare the word as one ``uint64_t`` in
perf_event.h and OR in the bits listed here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from stax_backend_linux.perf_event_ffi import ffi

# enum perf_type_id / perf_sw_ids / perf_hw_id (perf_event.h).
PERF_TYPE_HARDWARE = 0
PERF_TYPE_SOFTWARE = 1
PERF_COUNT_HW_CPU_CYCLES = 0
PERF_COUNT_SW_CPU_CLOCK = 0
PERF_COUNT_SW_DUMMY = 9

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
                  wakeup_bytes: int, max_stack: int = 0) -> Any:
    """The cpu-clock sampling event stax records with (one per CPU).

    A software hrtimer event (PERF_COUNT_SW_CPU_CLOCK) works without a PMU, e.g. in VMs;
    with ``freq`` the kernel turns ``sample_freq`` into a fixed period of 1e9/freq ns,
    which each sample reports as PERF_SAMPLE_PERIOD.  ``sample_id_all`` appends
    pid/tid/time/cpu to the side-band records (MMAP2, COMM, ...) so they can be time
    ordered with samples; ``use_clockid`` puts every timestamp on CLOCK_MONOTONIC.
    """
    flags = ["freq", "sample_id_all", "use_clockid", "mmap", "mmap2", "build_id", "comm",
             "comm_exec", "task", "watermark", "exclude_hv"]
    if not kernel:
        # paranoid >= 2 without CAP_PERFMON: perf_event_open(2) fails with EACCES unless
        # the event excludes kernel mode (and then kernel callchains too).
        flags += ["exclude_kernel", "exclude_callchain_kernel"]
    if enable_on_exec:
        flags += ["disabled", "enable_on_exec"]
    if inherit:
        flags.append("inherit")
    return new_attr(
        PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK, flags,
        sample_freq=frequency, sample_type=SAMPLE_TYPE, wakeup_watermark=wakeup_bytes,
        clockid=time.CLOCK_MONOTONIC, sample_max_stack=max_stack,
    )


def probe_attr(type_: int, config: int, *, exclude_kernel: bool) -> Any:
    """A minimal counting event, used only to ask the kernel whether something may be opened."""
    flags = ["disabled", "exclude_hv"] + (["exclude_kernel"] if exclude_kernel else [])
    return new_attr(type_, config, flags)
