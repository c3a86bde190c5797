"""perf's event names (``-e cpu-clock``, ``-e page-faults``, ``-e sched:sched_switch``) -> what to open.

``perf record -e NAME`` takes the names of perf_event.h's generic events (the software
``perf_sw_ids`` and hardware ``perf_hw_id`` enums, with perf's aliases) and
``SYSTEM:NAME`` tracepoints.  :func:`parse_event` turns one such spelling into the
``(type, config)`` pair of a ``perf_event_attr`` and says what one event is: a time
(cpu-clock and task-clock count nanoseconds, so a sample stands for CPU time) or a
count (page faults, switches, tracepoint hits), and whether it needs the hardware PMU.
A tracepoint's ``config`` is its id in tracefs (:func:`stax_binfmt.tracefs.tracepoint_id`);
the caller looks it up, after mounting tracefs.
"""

from __future__ import annotations

import re

import attrs

from stax_binfmt import perf_event_attr as pea

# enum perf_sw_ids (perf_event.h), by perf's names and aliases (tools/perf/util/parse-events.c)
SOFTWARE_EVENTS: dict[str, int] = {
    "cpu-clock": 0, "task-clock": 1,
    "page-faults": 2, "faults": 2,
    "context-switches": 3, "cs": 3,
    "cpu-migrations": 4, "migrations": 4,
    "minor-faults": 5, "major-faults": 6,
}
# enum perf_hw_id
HARDWARE_EVENTS: dict[str, int] = {
    "cycles": 0, "cpu-cycles": 0, "instructions": 1,
    "cache-references": 2, "cache-misses": 3,
    "branch-instructions": 4, "branches": 4, "branch-misses": 5,
}
TIME_EVENTS = ("cpu-clock", "task-clock")
"""Events counted in nanoseconds: a sample's period is CPU time."""
KERNEL_ONLY_SOFTWARE = ("context-switches", "cs", "cpu-migrations", "migrations")
"""Software events the kernel raises with its own registers: an ``exclude_kernel`` event never
samples them (perf_sw_event_sched), so they need kernel-mode sampling, like tracepoints."""
CONTEXT_SWITCH_EVENTS = ("context-switches", "cs")
DEFAULT_EVENT = "cpu-clock"
_TRACEPOINT = re.compile(r"(?P<system>[A-Za-z0-9_]+):(?P<name>[A-Za-z0-9_]+)")


class EventNameError(ValueError):
    """An event name stax cannot open; ``str()`` is one sentence with the fix."""


@attrs.frozen
class EventChoice:
    """One ``-e`` spelling: the name as given and what a perf_event_attr needs to open it."""

    name: str
    type: int
    config: int = 0
    """For a tracepoint, 0 until :meth:`with_tracepoint_id` fills in its tracefs id."""
    tracepoint: tuple[str, str] | None = None

    @property
    def is_time(self) -> bool:
        """cpu-clock / task-clock: the period is in ns, ``-F`` makes sense."""
        return self.type == pea.PERF_TYPE_SOFTWARE and self.config in (0, 1)

    @property
    def needs_pmu(self) -> bool:
        return self.type == pea.PERF_TYPE_HARDWARE

    @property
    def kernel_only(self) -> bool:
        """Whether it samples only in kernel mode (so never with ``exclude_kernel``)."""
        return self.tracepoint is not None or self.name in KERNEL_ONLY_SOFTWARE

    def with_tracepoint_id(self, tracepoint_id: int) -> EventChoice:
        return attrs.evolve(self, config=tracepoint_id)


def parse_event(text: str) -> EventChoice:
    """``cpu-clock``, ``page-faults``, ``cycles``, ``sched:sched_switch`` -> :class:`EventChoice`."""
    name = text.strip()
    if name in SOFTWARE_EVENTS:
        return EventChoice(name, pea.PERF_TYPE_SOFTWARE, SOFTWARE_EVENTS[name])
    if name in HARDWARE_EVENTS:
        return EventChoice(name, pea.PERF_TYPE_HARDWARE, HARDWARE_EVENTS[name])
    base, _, modifier = name.partition(":")
    if base in SOFTWARE_EVENTS or base in HARDWARE_EVENTS:
        raise EventNameError(f"-e {name}: event modifiers (:{modifier}) are not supported; give -e {base}"
                             " (add --no-kernel to leave out kernel mode).")
    match = _TRACEPOINT.fullmatch(name)
    if match:
        return EventChoice(name, pea.PERF_TYPE_TRACEPOINT, 0, (match["system"], match["name"]))
    if "*" in name or "," in name:
        raise EventNameError(f"-e {name}: stax records one event at a time; give one name, e.g."
                             " -e sched:sched_switch.")
    known = ", ".join([*dict.fromkeys(SOFTWARE_EVENTS), *("cycles", "instructions")])
    raise EventNameError(f"-e {name} is not an event stax knows; use one of {known}, or a tracepoint"
                         " SYSTEM:NAME (e.g. sched:sched_switch).")
