"""The :class:`StackProfile`: on- and off-CPU time per thread and recorded stack, with frame details.

What a profile travels as: pprof samples (one per thread, stack and blocked reason, with
thread and reason labels) and speedscope's sampled profiles (one per thread).  Both
totals come from SQL ``GROUP BY`` passes the profile views use too (``sample_totals`` per
thread and stack; ``off_cpu_spans`` per thread, stack and reason), so nothing is loaded
per sample; the
stacks stay the recorded ones (:class:`~stax.analysis.recorded_stacks.RecordedStacks`),
each frame an address with its inlined calls, rather than the merged display tree.

Off-CPU rows keep the runnable wait (``preempted``) beside blocked time; :attr:`blocked_ns`
and :attr:`preempted_ns` tell them apart, as ``stax top --off-cpu`` and ``stax threads`` do.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from stax.analysis.frame_names import DEFAULT_STYLE, FrameStyle
from stax.analysis.profile import ALL_SAMPLES, duration_from_meta
from stax.analysis.recorded_stacks import RecordedStacks
from stax.blocked_reason import BlockedReason
from stax.recording.meta_keys import BACKEND_SAMPLE_PERIOD_NS, FREQUENCY
from stax.recording.reader import Recording, SampleFilter, ThreadRow
from stax.recording.recording_state import recording_incomplete_notice

PREEMPTED = str(BlockedReason.PREEMPTED)


@attrs.frozen(slots=True)
class StackTotal:
    """On-CPU samples of one thread on one recorded stack: ``count`` samples, ``weight`` ns."""

    pid: int
    tid: int
    stack_id: int
    count: int
    weight: int


@attrs.frozen(slots=True)
class OffCpuStackTotal:
    """Off-CPU spans of one thread on one recorded stack for one reason: ``spans``, ``ns``.

    ``reason`` is a :class:`stax.blocked_reason.BlockedReason` value; ``preempted`` is
    runnable wait (the thread wanted a CPU), every other reason blocked time.
    """

    pid: int
    tid: int
    stack_id: int
    reason: str
    spans: int
    ns: int

    @property
    def is_blocked(self) -> bool:
        return self.reason != PREEMPTED


@attrs.define(slots=True, eq=False)
class StackProfile:
    """The selected threads' on-CPU samples and off-CPU spans per recorded stack.

    ``on_cpu`` and ``off_cpu`` rows point into ``stacks`` by stack id (-1: no stack was
    recorded).  ``sample_period_ns`` is the sampling interval (None when the recording
    does not say); ``duration_ns`` what the recorder measured, or the selection's span.
    """

    source: str
    filter: SampleFilter
    stacks: RecordedStacks
    threads: list[ThreadRow]
    on_cpu: list[StackTotal]
    off_cpu: list[OffCpuStackTotal]
    meta: dict[str, object] = attrs.field(factory=dict)
    duration_ns: int | None = None
    sample_period_ns: int | None = None
    recorded_spans: int = 0
    """Off-CPU spans in the whole recording, before the filter (0: no off-CPU data)."""
    incomplete: str | None = None
    """The "incomplete recording" sentence when stax record did not finish the file, else None."""

    @classmethod
    def from_recording(cls, recording: Recording, flt: SampleFilter = ALL_SAMPLES,
                       style: FrameStyle = DEFAULT_STYLE) -> StackProfile:
        """Aggregate ``recording``'s samples and spans passing ``flt`` (two SQL ``GROUP BY`` passes)."""
        return cls(**stack_profile_fields(recording, flt, style))

    @classmethod
    def from_path(cls, path: str | Path, flt: SampleFilter = ALL_SAMPLES,
                  style: FrameStyle = DEFAULT_STYLE) -> StackProfile:
        """Open, aggregate and close a recording file."""
        recording = Recording.open(path)
        try:
            return cls.from_recording(recording, flt, style)
        finally:
            recording.close()

    @property
    def sample_count(self) -> int:
        return sum(row.count for row in self.on_cpu)

    @property
    def cpu_ns(self) -> int:
        """CPU time the selected samples stand for."""
        return sum(row.weight for row in self.on_cpu)

    @property
    def blocked_ns(self) -> int:
        """Blocked time of the selected spans (runnable wait excluded)."""
        return sum(row.ns for row in self.off_cpu if row.is_blocked)

    @property
    def preempted_ns(self) -> int:
        """Runnable wait of the selected spans: off the CPU while still wanting it."""
        return sum(row.ns for row in self.off_cpu if not row.is_blocked)

    def thread_names(self) -> dict[tuple[int, int], str]:
        """(pid, tid) -> thread name, for every recorded thread."""
        return {(t.pid, t.tid): t.name for t in self.threads}


def stack_profile_fields(recording: Recording, flt: SampleFilter,
                         style: FrameStyle = DEFAULT_STYLE) -> dict[str, object]:
    """The constructor arguments of a StackProfile (a Timeline adds its own to them)."""
    on_cpu = [StackTotal(pid, tid, stack, count, weight or 0)
              for pid, tid, stack, count, weight in recording.thread_stack_totals(flt)]
    off_cpu = [OffCpuStackTotal(pid, tid, stack, reason, spans, ns or 0)
               for pid, tid, stack, reason, spans, ns in
               recording.thread_off_cpu_stack_totals(flt, include_preempted=True)]
    meta = recording.meta()
    duration = duration_from_meta(meta) if flt.is_empty() else None
    if duration is None:
        span = recording.time_range(flt)
        duration = span[1] - span[0] if span is not None else None
    return {
        "source": str(recording.path), "filter": flt,
        "stacks": RecordedStacks.from_recording(recording, style),
        "threads": recording.threads(), "on_cpu": on_cpu, "off_cpu": off_cpu, "meta": meta,
        "duration_ns": duration, "sample_period_ns": sample_period(meta),
        "recorded_spans": recording.off_cpu_span_count(),
        "incomplete": recording_incomplete_notice(recording, meta),
    }


def sample_period(meta: dict[str, object]) -> int | None:
    """The sampling interval in ns the backend reported, or the one its frequency implies."""
    period = meta.get(BACKEND_SAMPLE_PERIOD_NS.key)
    if isinstance(period, int) and not isinstance(period, bool) and period > 0:
        return period
    frequency = meta.get(FREQUENCY)
    if isinstance(frequency, int | float) and not isinstance(frequency, bool) and frequency > 0:
        return round(1e9 / frequency)
    return None
