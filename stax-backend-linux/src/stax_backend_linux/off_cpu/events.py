"""Opening the off-CPU events of one capture, per CPU, into the sampling rings.

Two kinds join the cpu-clock sampler on each CPU's ring (PERF_EVENT_IOC_SET_OUTPUT,
so one poll/drain loop sees everything in per-CPU time order):

* the context-switch event, shaped like the sampler (the command with ``inherit`` and
  ``enable_on_exec``, each ``-p`` thread, or ``pid -1`` for ``-a``): switch records
  always; with kernel-mode permission (or from staxd) also a sample with the stack at
  every switch-out (stax_binfmt.perf_event_sets.context_switch); staxd's, for a user whose
  policy keeps kernel stacks off, holds the user stack only and no IP;
* the sched:sched_waking tracepoint, ``pid -1`` on every CPU (root or CAP_PERFMON:
  CPU-wide, raw tracepoint data), opened disabled and enabled once the rings are set up.

Every event then carries PERF_SAMPLE_IDENTIFIER and the decoder is told which id is which.
What could not be opened is reported as one sentence each, never as a failure:
on-CPU sampling and off-CPU intervals go on without stacks or wakeups.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any

import attrs

from stax_backend_linux.capture.event_opener import OFF_CPU_STACKS, WAKEUPS, OffCpuStaxd
from stax_backend_linux.capture.targets import PerCpuEvents, open_system_wide
from stax_backend_linux.decode.record_decoder import KIND_SCHED_WAKING, KIND_SWITCH_STACK, RecordDecoder
from stax_backend_linux.host_capabilities import PARANOID_FIX, HostFacts
from stax_backend_linux.off_cpu.sched_waking import (
    ROOT_FIX,
    SchedWaking,
    TracefsUnavailable,
    load_sched_waking,
)
from stax_binfmt import perf_event_sets
from stax_binfmt.perf_dwarf_callgraph import DwarfSampling
from stax_binfmt.perf_event_ffi import PerfEventError, enable, event_id
from stax_binfmt.tracefs import TraceField

OpenShape = Callable[[Callable[[], Any]], PerCpuEvents]
"""Opens one event per CPU (and per thread) the way the sampler was opened."""

WAKEUPS_MISSING = "Wakeups were not captured because {why}, so off-CPU intervals have no waker"


@attrs.define
class OffCpuSetup:
    """What was opened, and what is missing and why."""

    switch_events: PerCpuEvents | None = None
    waking_events: PerCpuEvents | None = None
    switch_fds: list[int] = attrs.field(factory=list)
    waking_fds: list[int] = attrs.field(factory=list)
    stacks: bool = False
    """Switch-out samples (with stacks) were opened, not just switch records."""
    kernel_callchain: bool = False
    waking: SchedWaking | None = None
    sample_ip: Callable[[int], bool] = lambda event_id: True
    """Whether an event's samples have PERF_SAMPLE_IP (staxd's grants without kernel stacks do not)."""
    wakeups_missing: str = ""
    """Why wakeups were not captured ('' when they were)."""
    notes: list[str] = attrs.field(factory=list)

    def register(self, decoder: RecordDecoder) -> None:
        """Tell the decoder which event ids are switch stacks and wakeups (PERF_EVENT_IOC_ID)."""
        if self.stacks:
            for fd in self.switch_fds:
                ident = event_id(fd)
                decoder.register(ident, KIND_SWITCH_STACK, sample_ip=self.sample_ip(ident))
        if self.waking is not None:
            for fd in self.waking_fds:
                ident = event_id(fd)
                decoder.register(ident, KIND_SCHED_WAKING, self.waking.pid_offset,
                                 sample_ip=self.sample_ip(ident))

    def hand_over(self, rings: PerCpuEvents) -> None:
        """Make every fd a follower of the sampler's leader on its CPU; ``rings`` closes them."""
        for events in (self.switch_events, self.waking_events):
            if events is None:
                continue
            for index, cpu in enumerate(events.cpus):
                at = rings.cpus.index(cpu)
                rings.followers[at] += [events.leaders[index], *events.followers[index]]
            events.leaders, events.followers = [], []
        self.switch_events = self.waking_events = None

    def enable_wakeups(self) -> None:
        """Start sched_waking (opened disabled so nothing is written before SET_OUTPUT)."""
        for fd in self.waking_fds:
            enable(fd)

    def close(self) -> None:
        """Close what was not handed over (when setting up failed half-way)."""
        for events in (self.switch_events, self.waking_events):
            if events is not None:
                events.close()
        self.switch_events = self.waking_events = None


def open_off_cpu(shape: OpenShape, cpus: list[int], facts: HostFacts, *, enable_on_exec: bool,
                 inherit: bool, wakeup_bytes: int, staxd: OffCpuStaxd | None = None,
                 dwarf: DwarfSampling | None = None) -> OffCpuSetup:
    """Open the context-switch events (with stacks when allowed) and sched_waking.

    ``dwarf``: each switch-out sample also copies the user registers and stack (--call-graph fp's
    hybrid dump or dwarf's), for unwinding after capture.

    With ``staxd``, what this process may not open (switch stacks, sched_waking) is asked
    of staxd, and what it does not grant is reported to ``staxd.lose`` (which makes the
    recording's one note) instead of a note here.
    Raises PerfEventError only when even the plain switch records cannot be opened.
    """
    setup = OffCpuSetup()
    kernel_ok = facts.kernel_stacks_allowed

    def switch_attr(stacks: bool) -> Callable[[], Any]:
        return lambda: perf_event_sets.context_switch(stacks=stacks, kernel=stacks, inherit=inherit,
                                                      start="on_exec" if enable_on_exec else "enabled",
                                                      wakeup_bytes=wakeup_bytes,
                                                      dwarf=dwarf if stacks else None)

    if kernel_ok:
        try:
            setup.switch_events = shape(switch_attr(True))
            setup.stacks = setup.kernel_callchain = True
        except PerfEventError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM):
                raise
            setup.notes.append(_no_stacks_note(f"the kernel refused a kernel-mode context-switch event "
                                               f"({os.strerror(exc.errno or 0)})"))
    elif staxd is not None:
        setup.sample_ip = staxd.sample_ip
        setup.switch_events = staxd.switch_with_stacks()
        setup.stacks = setup.switch_events is not None
        setup.kernel_callchain = setup.stacks and staxd.kernel_granted()
        if setup.switch_events is None:
            staxd.lose(OFF_CPU_STACKS)
    else:
        setup.notes.append(_no_stacks_note(f"kernel.perf_event_paranoid is {facts.paranoid}"))
    if setup.switch_events is None:
        setup.switch_events = shape(switch_attr(False))
    setup.switch_fds = setup.switch_events.all_fds()

    try:
        setup.waking = load_sched_waking()
    except TracefsUnavailable as exc:
        setup.wakeups_missing = str(exc)
    if setup.waking is not None:
        if not (facts.perfmon_capable or facts.paranoid <= -1):
            setup.wakeups_missing = (f"the sched:sched_waking tracepoint needs root or CAP_PERFMON "
                                     f"(kernel.perf_event_paranoid is {facts.paranoid}); {ROOT_FIX}")
        else:
            tracepoint = setup.waking.tracepoint_id

            def waking_attr() -> Any:
                return perf_event_sets.sched_waking(tracepoint, kernel=kernel_ok, wakeup_bytes=wakeup_bytes)

            try:
                setup.waking_events = open_system_wide(waking_attr, cpus)
                setup.waking_fds = setup.waking_events.all_fds()
            except PerfEventError as exc:
                setup.wakeups_missing = (f"opening the sched:sched_waking tracepoint failed "
                                         f"({os.strerror(exc.errno or 0)}); {ROOT_FIX}")
    if setup.wakeups_missing and staxd is not None:
        granted = staxd.sched_waking()
        if granted is not None:
            setup.waking_events, fields = granted
            setup.waking_fds = setup.waking_events.all_fds()
            setup.waking = SchedWaking(-1, {name: TraceField(*v) for name, v in fields.items()})
            setup.wakeups_missing = ""
        else:
            staxd.lose(WAKEUPS)
    if setup.wakeups_missing:
        setup.waking = None
        if staxd is None:
            setup.notes.append(WAKEUPS_MISSING.format(why=setup.wakeups_missing.rstrip(".")) + ".")
    return setup


def _no_stacks_note(why: str) -> str:
    return (f"Off-CPU intervals have no stacks and take their blocked reason from /proc wchan "
            f"(waits shorter than ~0.1 s show as 'other') because {why}; to record off-CPU stacks, "
            f"{PARANOID_FIX}.")
