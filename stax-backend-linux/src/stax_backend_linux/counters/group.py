"""Opening the hardware-counter group (:mod:`stax_binfmt.perf_counters` says why it is shaped
so) on each thread and CPU, and reading a leader.

One group per (thread, CPU), leader first; a kernel without inherit + PERF_SAMPLE_READ
(EINVAL) gets the group without it.  The attrs are the event set staxd grants
(:func:`stax_binfmt.perf_event_sets.counter`), so both kinds of group read the same way.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence

import attrs

from stax_binfmt import perf_counters, perf_event_sets
from stax_binfmt.perf_counters import NO_PMU_ERRNOS, CounterSpec
from stax_binfmt.perf_event_ffi import PerfEventError, event_id, perf_event_open

__all__ = ["NO_PMU_ERRNOS", "CounterGroup", "CounterSpec", "no_pmu_sentence", "open_group", "open_groups",
           "read_group"]


def no_pmu_sentence(err: int) -> str:
    """The one sentence for a host whose PMU does not exist (the cycles leader fails with ``err``)."""
    code = errno.errorcode.get(err, str(err))
    return (f"No hardware PMU on this host (perf_event_open for the cycles counter fails with {code}), so "
            f"hardware counters were not recorded; run on bare metal or enable the hypervisor's virtual PMU.")


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
    specs = perf_counters.COUNTER_GROUP if group is None else group
    for sample_read in (True, False):
        fds: list[int] = []
        try:
            for position, spec in enumerate(specs):
                attr = perf_event_sets.counter(spec, leader=position == 0, kernel=kernel, inherit=inherit,
                                               start="on_exec" if enable_on_exec else "enabled",
                                               identifier=identifier, sample_read=sample_read)
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
