"""What each event of a perf.data file becomes: on-CPU samples, switches, wakeups, or nothing.

* the first event that samples (a period or frequency, not one of the two scheduler
  tracepoints) gives the on-CPU samples; later sampling events are skipped and counted
  (a profile holds one event's samples; ``perf report`` shows them one by one too);
* ``sched:sched_switch`` -> :data:`~stax_backend_linux.decode.record_decoder.KIND_SCHED_SWITCH`,
  ``sched:sched_waking`` -> KIND_SCHED_WAKING, with their field offsets from the
  file's tracing data (or, if the file has none, this host's tracefs, said in a note);
* any other tracepoint is skipped and counted.

Tracepoints are named by the file's tracing data (id -> ``system:name``), else by
HEADER_EVENT_DESC's event names.
"""

from __future__ import annotations

from collections import Counter

import attrs

from stax_backend_linux.decode import record_decoder as rd
from stax_backend_linux.off_cpu import sched_switch
from stax_backend_linux.off_cpu.sched_switch import SchedSwitchFormat, SchedSwitchFormatError
from stax_backend_linux.perf_data.features import PerfFeatures
from stax_backend_linux.perf_data.header import PerfAttr
from stax_binfmt import tracefs
from stax_binfmt.perf_event_attr import (
    PERF_COUNT_SW_CPU_CLOCK,
    PERF_COUNT_SW_DUMMY,
    PERF_TYPE_SOFTWARE,
    PERF_TYPE_TRACEPOINT,
)
from stax_binfmt.tracefs import TraceField

SCHED_WAKING = "sched:sched_waking"
TIME_EVENTS = (PERF_COUNT_SW_CPU_CLOCK, 1)  # cpu-clock, task-clock: their period is nanoseconds
ON_CPU, SWITCHES, WAKEUPS, SKIPPED, SIDE_BAND = (
    "on-CPU samples",
    "off-CPU spans",
    "wakeups",
    "skipped",
    "side-band",
)


@attrs.define
class EventKinds:
    attrs: list[PerfAttr]
    names: list[str]
    roles: list[str]
    """Per attr: ON_CPU, SWITCHES, WAKEUPS, SKIPPED or SIDE_BAND (samples nothing)."""
    by_id: dict[int, int] = attrs.field(factory=dict)
    """Event id (0: every sample, when samples carry no id) -> decoder kind, for non-on-CPU events."""
    sched_switch: SchedSwitchFormat | None = None
    waking: bool = False
    waking_pid_offset: int = -1
    notes: list[str] = attrs.field(factory=list)

    def described(self) -> list[dict[str, str]]:
        return [{"event": name, "as": role} for name, role in zip(self.names, self.roles, strict=True)]

    def skipped_samples(self, count: int) -> Counter[str]:
        names = [n for n, role in zip(self.names, self.roles, strict=True) if role == SKIPPED]
        return Counter({f"samples of {', '.join(names)}": count}) if count else Counter()


def classify_events(attrs_: list[PerfAttr], features: PerfFeatures) -> EventKinds:
    names = [_name(a, features) for a in attrs_]
    kinds = EventKinds(list(attrs_), names, [])
    single = len(attrs_) == 1
    for attr, name in zip(attrs_, names, strict=True):
        role, kind = _role(attr, name, features, kinds, on_cpu_taken=ON_CPU in kinds.roles)
        kinds.roles.append(role)
        if kind != rd.KIND_SAMPLING and role != SIDE_BAND:  # side-band events write no samples to tell apart
            for event_id in (0,) if single else attr.ids:
                kinds.by_id[event_id] = kind
    return kinds


def _role(
    attr: PerfAttr, name: str, features: PerfFeatures, kinds: EventKinds, *, on_cpu_taken: bool
) -> tuple[str, int]:
    if attr.type == PERF_TYPE_TRACEPOINT and name in (sched_switch.NAME, SCHED_WAKING):
        fields = _fields(attr, name, features, kinds)
        if fields is not None and name == sched_switch.NAME:
            try:
                kinds.sched_switch = SchedSwitchFormat.from_fields(fields)
                return SWITCHES, rd.KIND_SCHED_SWITCH
            except SchedSwitchFormatError as exc:
                kinds.notes.append(f"{str(exc)[0].upper()}{str(exc)[1:]}, so its samples were skipped.")
        elif fields is not None:
            pid = fields.get("pid")
            if pid is not None and pid.size == 4:
                kinds.waking, kinds.waking_pid_offset = True, pid.offset
                return WAKEUPS, rd.KIND_SCHED_WAKING
            kinds.notes.append(
                f"The {SCHED_WAKING} format has no 4-byte pid field, so its samples were skipped."
            )
        return SKIPPED, rd.KIND_SKIPPED
    if attr.sample_period == 0 or (attr.type == PERF_TYPE_SOFTWARE and attr.config == PERF_COUNT_SW_DUMMY):
        return SIDE_BAND, rd.KIND_SKIPPED  # counts, or perf's tracking event: never samples
    if attr.type == PERF_TYPE_TRACEPOINT or on_cpu_taken:
        return SKIPPED, rd.KIND_SKIPPED
    if not (attr.type == PERF_TYPE_SOFTWARE and attr.config in TIME_EVENTS):
        kinds.notes.append(
            f"Samples of {name} weigh its event count, not nanoseconds, so CPU times shown in ms "
            f"are counts of {name}; percentages are unaffected."
        )
    return ON_CPU, rd.KIND_SAMPLING


def _name(attr: PerfAttr, features: PerfFeatures) -> str:
    if attr.type == PERF_TYPE_TRACEPOINT and attr.config in features.tracepoints:
        return features.tracepoints[attr.config].name
    for event_id in attr.ids:
        if event_id in features.event_names:
            return features.event_names[event_id]
    return f"event type {attr.type} config {attr.config:#x}"


def _fields(
    attr: PerfAttr, name: str, features: PerfFeatures, kinds: EventKinds
) -> dict[str, TraceField] | None:
    """The tracepoint's fields from the file, else from this host's tracefs (with a note)."""
    fields = features.tracepoint_fields(attr.config)
    if fields is not None:
        return fields
    system, event = name.split(":", 1)
    root = tracefs.readable_root()
    if root is not None:
        try:
            fields = tracefs.tracepoint_fields(root, system, event)
        except tracefs.TracefsError:
            fields = None
    if fields is None:
        kinds.notes.append(
            f"The file has no format for {name} and this host's tracefs cannot give one, "
            f"so its samples were skipped; record with a perf that writes tracing data."
        )
        return None
    kinds.notes.append(
        f"The file has no format for {name}: its field offsets were taken from this host's tracefs."
    )
    return fields
