"""The :class:`Timeline`: a stack profile with time, per thread: sample slices and off-CPU spans.

Tools that draw a profile over time (the Firefox Profiler's tracks) need to know *when*
each stack ran, which the per-(thread, stack) totals do not keep.  Samples are grouped in
SQL per thread, stack and time slice (:data:`MIN_SLICE_NS` wide, wider for long
recordings so there are at most :data:`MAX_SLICES`), so a timeline costs one ``GROUP BY``
pass and never a Python object per sample.  Off-CPU spans are kept one by one: each is an
interval with its own start, end, reason and wait site (Firefox Profiler markers).
``stax serve`` draws its timeline from two smaller reader queries instead (sample density
per bucket and thread, each thread's longest spans).  Times are ns since the first
selected sample or span (:attr:`Timeline.origin_ns`, on the recording's clock).
"""

from __future__ import annotations

import attrs

from stax.analysis.frame_names import DEFAULT_STYLE, FrameStyle
from stax.analysis.profile import ALL_SAMPLES
from stax.analysis.stack_profile import StackProfile, stack_profile_fields
from stax.recording.reader import Recording, SampleFilter

MIN_SLICE_NS = 1_000_000
"""The finest time slice: 1 ms, about one sample per thread at stax's default 999 Hz."""
MAX_SLICES = 10_000
"""Slices per recording at most: a long recording gets wider slices, not more rows."""


@attrs.frozen(slots=True)
class SampleSlice:
    """``count`` samples (``weight`` ns of CPU) of one thread on one stack, in one time slice.

    ``start_ns`` is where the slice starts, since :attr:`Timeline.origin_ns`.
    """

    start_ns: int
    pid: int
    tid: int
    stack_id: int
    count: int
    weight: int


@attrs.frozen(slots=True)
class OffCpuSpan:
    """One off-CPU interval of a thread, ns since :attr:`Timeline.origin_ns`.

    ``reason`` is a :class:`stax.blocked_reason.BlockedReason` value (``preempted``:
    runnable wait); ``wait_site`` the kernel function that decided it.
    """

    start_ns: int
    end_ns: int
    pid: int
    tid: int
    reason: str
    wait_site: str
    stack_id: int


@attrs.define(slots=True, eq=False)
class Timeline(StackProfile):
    """A :class:`StackProfile` plus when things happened: ``slices`` of samples and ``spans``.

    ``slices`` are in time order, ``slice_ns`` wide; ``spans`` are in start order.
    ``end_ns`` is the last sample slice's end or span's end, whichever is later.
    """

    origin_ns: int = 0
    slice_ns: int = MIN_SLICE_NS
    end_ns: int = 0
    slices: list[SampleSlice] = attrs.field(factory=list)
    spans: list[OffCpuSpan] = attrs.field(factory=list)

    @classmethod
    def from_recording(cls, recording: Recording, flt: SampleFilter = ALL_SAMPLES,
                       style: FrameStyle = DEFAULT_STYLE) -> Timeline:
        """The stack profile of ``recording`` with its time slices and spans (``flt`` selects)."""
        fields = stack_profile_fields(recording, flt, style)
        ranges = [r for r in (recording.time_range(flt), recording.off_cpu_time_range(flt)) if r]
        if not ranges:
            return cls(**fields)
        origin = min(first for first, _ in ranges)
        length = max(last for _, last in ranges) - origin
        slice_ns = max(MIN_SLICE_NS, -(-length // MAX_SLICES))
        slices = [SampleSlice(index * slice_ns, pid, tid, stack, count, weight or 0)
                  for index, pid, tid, stack, count, weight in
                  recording.thread_stack_slices(flt, origin, slice_ns)]
        spans = [OffCpuSpan(start - origin, end - origin, pid, tid, reason, wait_site, stack)
                 for start, end, pid, tid, _cpu, reason, wait_site, stack, _wakeup in
                 recording.off_cpu_spans(flt)]
        end = max([s.start_ns + slice_ns for s in slices[-1:]] + [s.end_ns for s in spans] + [0])
        return cls(**fields, origin_ns=origin, slice_ns=slice_ns, end_ns=end, slices=slices, spans=spans)
