"""The hardware-counter group: cycles, instructions, L1-D read misses, branch misses.

One group per (thread, CPU), leader first, every member ``inherit`` + ``inherit_stat``
and ``read_format`` GROUP|ID|TOTAL_TIME_ENABLED|TOTAL_TIME_RUNNING (perf_event.h):

* a group is scheduled onto the PMU as a unit, so the four values of one read()
  cover exactly the same instructions, and IPC is a true ratio;
* ``inherit`` follows every thread and child the target creates; ``inherit_stat``
  keeps counts per task when the kernel swaps equivalent contexts between the
  parent and its clones (perf_event_sync_stat), and makes each inherited copy write
  a PERF_RECORD_READ with that thread's values when the thread exits;
* the groups are per CPU, not ``cpu = -1``, because the kernel refuses to mmap an
  inherited per-task event (perf_mmap: EINVAL) and PERF_EVENT_IOC_SET_OUTPUT only
  joins events of the same CPU; per CPU, every member is SET_OUTPUT into that CPU's
  sampling ring, which is where the READ records of exiting threads land (an
  inherited event writes into its parent's ring, __perf_output_begin);
* ``sample_id_all`` + ``use_clockid`` give those READ records the ring's own
  sample_id trailer on CLOCK_MONOTONIC (SET_OUTPUT also requires the same clock);
* PERF_SAMPLE_READ (the members never sample): a context holding an inherit +
  SAMPLE_READ event is switched the slow way (nr_no_switch_fast), so the kernel never
  swaps counter contexts between a task and its clones.  With the swap,
  perf_event_sync_stat pairs events by their position in the two contexts' lists,
  and on 6.18 that mixed counts of different events between threads (seen with
  software stand-ins).  Kernels that refuse inherit + SAMPLE_READ (EINVAL) get the
  group without it.

Both the in-process path (``stax_backend_linux.counters.group``) and staxd build the attrs
here, through :func:`stax_binfmt.perf_event_sets.counter`, so a granted group is
indistinguishable from one opened in-process.
"""

from __future__ import annotations

import errno
import time
from typing import Any

import attrs

from stax_binfmt import perf_event_attr as pea

COUNTER_READ_FORMAT = (pea.PERF_FORMAT_GROUP | pea.PERF_FORMAT_ID | pea.PERF_FORMAT_TOTAL_TIME_ENABLED
                       | pea.PERF_FORMAT_TOTAL_TIME_RUNNING)

#: errnos of perf_event_open that mean "there is no such hardware event here"
NO_PMU_ERRNOS = (errno.ENOENT, errno.ENODEV, errno.EOPNOTSUPP)


@attrs.frozen(slots=True)
class CounterSpec:
    """One member of the group: perf's event name, the recording's key, and the attr type/config."""

    event: str
    key: str
    type_: int
    config: int


#: The group, leader first.  ``key`` is the name in CounterValues and the counter_values table.
COUNTER_GROUP: tuple[CounterSpec, ...] = (
    CounterSpec("cycles", "cycles", pea.PERF_TYPE_HARDWARE, pea.PERF_COUNT_HW_CPU_CYCLES),
    CounterSpec("instructions", "instructions", pea.PERF_TYPE_HARDWARE, pea.PERF_COUNT_HW_INSTRUCTIONS),
    CounterSpec("L1-dcache-load-misses", "l1d-read-misses", pea.PERF_TYPE_HW_CACHE, pea.L1D_READ_MISS),
    CounterSpec("branch-misses", "branch-misses", pea.PERF_TYPE_HARDWARE, pea.PERF_COUNT_HW_BRANCH_MISSES),
)


def counter_attr(spec: CounterSpec, *, leader: bool, kernel: bool, inherit: bool, enable_on_exec: bool,
                 identifier: bool, sample_read: bool = True) -> Any:
    """One counting member of the group (``sample_period`` 0: it never samples).

    Only the leader carries ``disabled``/``enable_on_exec``: a member counts only while
    its leader is enabled and the group is on the PMU.  ``sample_type`` matters only for
    the sample_id trailer of the READ records, so it is the sampling ring's layout
    (``identifier`` when the ring is shared with the off-CPU events).
    """
    flags = ["exclude_hv", "sample_id_all", "use_clockid"]
    if not kernel:
        flags.append("exclude_kernel")  # paranoid 2 allows counting one's own user mode only
    if inherit:
        flags += ["inherit", "inherit_stat"]
    if leader and enable_on_exec:
        flags += ["disabled", "enable_on_exec"]
    sample_type = pea.SAMPLE_TYPE | (pea.PERF_SAMPLE_IDENTIFIER if identifier else 0)
    if sample_read and inherit:
        sample_type |= pea.PERF_SAMPLE_READ  # keeps per-task contexts apart (module doc)
    return pea.new_attr(spec.type_, spec.config, flags, read_format=COUNTER_READ_FORMAT,
                        sample_type=sample_type, clockid=time.CLOCK_MONOTONIC)
