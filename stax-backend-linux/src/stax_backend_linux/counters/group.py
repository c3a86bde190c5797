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

Both the in-process path and staxd (``staxd_linux.event_attrs``) build the attrs here,
so a granted group is indistinguishable from one opened in-process.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Sequence
from typing import Any

import attrs

from stax_binfmt import perf_event_attr as pea
from stax_binfmt.perf_event_ffi import PerfEventError, event_id, perf_event_open

# enum perf_type_id / perf_hw_id / perf_hw_cache_* (perf_event.h)
PERF_TYPE_HW_CACHE = 3
PERF_COUNT_HW_INSTRUCTIONS = 1
PERF_COUNT_HW_BRANCH_MISSES = 5
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
COUNTER_READ_FORMAT = (PERF_FORMAT_GROUP | PERF_FORMAT_ID | PERF_FORMAT_TOTAL_TIME_ENABLED
                       | PERF_FORMAT_TOTAL_TIME_RUNNING)

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
    CounterSpec("instructions", "instructions", pea.PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS),
    CounterSpec("L1-dcache-load-misses", "l1d-read-misses", PERF_TYPE_HW_CACHE, L1D_READ_MISS),
    CounterSpec("branch-misses", "branch-misses", pea.PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES),
)


def no_pmu_sentence(err: int) -> str:
    """The one sentence for a host whose PMU does not exist (the cycles leader fails with ``err``)."""
    code = errno.errorcode.get(err, str(err))
    return (f"No hardware PMU on this host (perf_event_open for the cycles counter fails with {code}), so "
            f"hardware counters were not recorded; run on bare metal or enable the hypervisor's virtual PMU.")


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


@attrs.define(slots=True)
class CounterGroup:
    """The fds of one opened group (leader first) and the kernel id of each member."""

    pid: int
    tid: int
    cpu: int
    fds: list[int]
    ids: list[int]
    keys: list[str]

    @property
    def leader(self) -> int:
        return self.fds[0]


def open_group(tid: int, cpu: int, *, pid: int, kernel: bool, inherit: bool, enable_on_exec: bool,
               identifier: bool, group: Sequence[CounterSpec] | None = None) -> CounterGroup:
    """Open the whole group on (``tid``, ``cpu``); on any failure close what was opened and re-raise."""
    specs = COUNTER_GROUP if group is None else group
    for sample_read in (True, False):
        fds: list[int] = []
        try:
            for position, spec in enumerate(specs):
                attr = counter_attr(spec, leader=position == 0, kernel=kernel, inherit=inherit,
                                    enable_on_exec=enable_on_exec, identifier=identifier,
                                    sample_read=sample_read)
                fds.append(perf_event_open(attr, tid, cpu, group_fd=fds[0] if fds else -1))
            ids = [event_id(fd) for fd in fds]
        except PerfEventError as exc:
            for fd in fds:
                os.close(fd)
            if sample_read and not fds and exc.errno == errno.EINVAL:
                continue  # a kernel without inherit + PERF_SAMPLE_READ
            raise
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        return CounterGroup(pid, tid, cpu, fds, ids, [s.key for s in specs])
    raise AssertionError("unreachable")


def open_groups(threads: Sequence[tuple[int, int]], cpus: Sequence[int], *, kernel: bool,
                enable_on_exec: bool, identifier: bool) -> list[CounterGroup]:
    """One group per ((pid, tid), cpu), inherited; threads that exited meanwhile are skipped.

    Raises PerfEventError from the first failure that is not ESRCH (ENOENT: no PMU).
    """
    groups: list[CounterGroup] = []
    try:
        for pid, tid in threads:
            for cpu in cpus:
                try:
                    groups.append(open_group(tid, cpu, pid=pid, kernel=kernel, inherit=True,
                                             enable_on_exec=enable_on_exec, identifier=identifier))
                except PerfEventError as exc:
                    if exc.errno != errno.ESRCH:
                        raise
    except BaseException:
        for group in groups:
            for fd in group.fds:
                os.close(fd)
        raise
    return groups


def read_group(fd: int, members: int) -> bytes:
    """read(2) of a group leader: ``nr, time_enabled, time_running, {value, id}[nr]`` (u64 each)."""
    return os.read(fd, 8 * (3 + 2 * members))
