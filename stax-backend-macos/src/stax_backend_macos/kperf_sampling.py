"""kperf: a timer action with thread info and kernel + user callstacks, lightweight PET, kpc counters.

Order (macos-notes.md, checked against osfmk/kperf/kperfbsd.c): reset, one action
(ids count from 1) with samplers TH_INFO | KSTACK | USTACK (| PMC_THREAD), filtered
to a pid or all (-1); one timer (ids from 0) with the period in kperf ticks, bound to
the action and made the PET timer; ``kperf.lightweight_pet`` = 1 so each CPU samples
its running thread per tick and every thread once per period as it comes on-core
(which is where off-CPU stacks come from).  kdebug is configured before sampling
starts.  Counters: kperfdata's kpep database names the events; kpc is programmed with
the configuration it builds and thread counting is turned on, so PERF_KPC_DATA_THREAD
carries each sampled thread's counters.  NEVER RUN ON A MAC.
"""

from __future__ import annotations

import attrs

from stax.errors import CaptureError
from stax_backend_macos import darwin_ffi
from stax_backend_macos.kdebug_codes import (
    SAMPLER_KSTACK,
    SAMPLER_PMC_THREAD,
    SAMPLER_TH_INFO,
    SAMPLER_USTACK,
)

ACTION_ID = 1
TIMER_ID = 0
MIN_PERIOD_NS = 1_000_000
"""kptimer.c clamps a PET timer's period to at least 1 ms."""

COUNTER_EVENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cycles", ("FIXED_CYCLES", "CPU_CLK_UNHALTED.THREAD", "CPU_CLK_UNHALTED.CORE")),
    ("instructions", ("FIXED_INSTRUCTIONS", "INST_RETIRED.ANY")),
    ("l1d-read-misses", ("L1D_CACHE_MISS_LD_NONSPEC", "L1D_CACHE_MISS_LD", "MEM_LOAD_RETIRED.L1_MISS")),
    ("branch-misses", ("BRANCH_MISPRED_NONSPEC", "BRANCH_MISPREDICT", "BR_MISP_RETIRED.ALL_BRANCHES")),
)
"""The counters stax records (the Linux backend's names), each with kpep event names to try in order."""


def period_for(frequency: int) -> int:
    """The timer period in ns for ``frequency`` Hz, clamped to kperf's 1 ms minimum."""
    return max(MIN_PERIOD_NS, 1_000_000_000 // frequency)


def _check(result: int, what: str) -> None:
    if result != 0:
        raise CaptureError(f"kperf refused to {what} (error {result}); another tool may hold the"
                           f" performance counters: close Instruments and record again.")


def start_sampling(pid: int, period_ns: int, kernel_stacks: bool, counters: bool) -> None:
    lib = darwin_ffi.kperf()
    samplers = SAMPLER_TH_INFO | SAMPLER_USTACK | (SAMPLER_KSTACK if kernel_stacks else 0)
    samplers |= SAMPLER_PMC_THREAD if counters else 0
    _check(lib.kperf_action_count_set(1), "set the action count")
    _check(lib.kperf_action_samplers_set(ACTION_ID, samplers), "set the samplers")
    _check(lib.kperf_action_filter_set_by_pid(ACTION_ID, pid), "filter by process")
    _check(lib.kperf_timer_count_set(1), "set the timer count")
    _check(lib.kperf_timer_period_set(TIMER_ID, lib.kperf_ns_to_ticks(period_ns)), "set the timer period")
    _check(lib.kperf_timer_action_set(TIMER_ID, ACTION_ID), "bind the timer to the action")
    _check(lib.kperf_timer_pet_set(TIMER_ID), "make the timer the PET timer")
    one = darwin_ffi.ffi.new("int *", 1)
    _check(darwin_ffi.libsystem().sysctlbyname(b"kperf.lightweight_pet", darwin_ffi.ffi.NULL,
                                               darwin_ffi.ffi.NULL, one, 4), "turn on lightweight PET")
    _check(lib.kperf_sample_set(1), "start sampling")


def stop_sampling() -> None:
    lib = darwin_ffi.kperf()
    lib.kperf_sample_set(0)
    lib.kperf_reset()


@attrs.frozen(slots=True)
class CounterSetup:
    classes: int
    names: tuple[str, ...]
    """The stax name of each kpc counter index (empty string: a counter stax did not ask for)."""


def start_counters() -> CounterSetup:
    """Program kpc with cycles, instructions, L1-D read misses and branch misses, as this CPU names them."""
    ffi, data, kperf = darwin_ffi.ffi, darwin_ffi.kperfdata(), darwin_ffi.kperf()
    db = ffi.new("kpep_db **")
    _check(data.kpep_db_create(ffi.NULL, db), "open the PMU event database")
    config = ffi.new("kpep_config **")
    try:
        _check(data.kpep_config_create(db[0], config), "create a counter configuration")
        _check(data.kpep_config_force_counters(config[0]), "take the counters")
        wanted: list[str] = []
        for name, candidates in COUNTER_EVENTS:
            event = ffi.new("kpep_event **")
            found = next((c for c in candidates if data.kpep_db_event(db[0], c.encode(), event) == 0), None)
            if found is not None:
                _check(data.kpep_config_add_event(config[0], event, 0, ffi.NULL), f"add {found}")
                wanted.append(name)
        classes = ffi.new("uint32_t *")
        count = ffi.new("size_t *")
        _check(data.kpep_config_kpc_classes(config[0], classes), "read the counter classes")
        _check(data.kpep_config_kpc_count(config[0], count), "count the counters")
        registers = ffi.new("uint64_t[32]")
        mapping = ffi.new("size_t[32]")
        _check(data.kpep_config_kpc_map(config[0], mapping, ffi.sizeof(mapping)), "map the counters")
        _check(data.kpep_config_kpc(config[0], registers, ffi.sizeof(registers)), "build the configuration")
        _check(kperf.kpc_force_all_ctrs_set(1), "take every counter")
        _check(kperf.kpc_set_config(classes[0], registers), "program the counters")
        _check(kperf.kpc_set_counting(classes[0]), "start counting")
        _check(kperf.kpc_set_thread_counting(classes[0]), "start counting per thread")
        names = [""] * 32
        for index, name in enumerate(wanted):
            names[mapping[index]] = name
        return CounterSetup(classes[0], tuple(names[: max(count[0], 1)]))
    finally:
        if config[0] != ffi.NULL:
            data.kpep_config_free(config[0])
        data.kpep_db_free(db[0])


def stop_counters() -> None:
    kperf = darwin_ffi.kperf()
    kperf.kpc_set_thread_counting(0)
    kperf.kpc_set_counting(0)
    kperf.kpc_force_all_ctrs_set(0)
