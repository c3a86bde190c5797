"""The :class:`OffCpuProfile`: blocked time of a recording per distinct stack and reason.

It is a :class:`~stax.analysis.profile.Profile` whose counts are off-CPU spans and
whose weights are blocked nanoseconds, so call trees, function totals and any
renderer work on it unchanged.  It adds what only the off-CPU views need: the
blocked reason of each leaf entry (a stack blocked for two reasons is two
entries on one node), the per-reason totals, and the runnable wait (preempted
spans), which is off-CPU time but never blocked time and so is kept out of the
tree and reported beside it.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from pathlib import Path

import attrs

from stax.analysis.frame_names import DEFAULT_STYLE, FrameStyle
from stax.analysis.profile import (
    ALL_SAMPLES,
    DisplayTreeBuilder,
    Profile,
    ThreadStack,
    display_tree_builder,
    duration_from_meta,
)
from stax.blocked_reason import BlockedReason
from stax.capabilities import Capability, CapabilityRow, CapabilityStatus
from stax.recording.meta_keys import NOTES
from stax.recording.reader import Recording, SampleFilter
from stax.recording.recording_state import recording_incomplete_notice
from stax.recording.validation import total_fits

PREEMPTED = str(BlockedReason.PREEMPTED)


@attrs.frozen(slots=True)
class OffCpuThreadStack(ThreadStack):
    """Blocked spans of one thread on one node, for one reason (``count`` spans, ``weight`` ns)."""

    reason: str = ""


@attrs.frozen(slots=True)
class ReasonTotal:
    """Blocked spans and time for one reason."""

    reason: str
    spans: int
    ns: int


@attrs.define(slots=True, eq=False)
class OffCpuProfile(Profile):
    """Blocked (off-CPU, not runnable) time per stack: counts are spans, weights are ns.

    ``leaf_reasons[i]`` is the reason of leaf entry ``i`` (parallel to ``leaf_nodes``);
    a node appears once per reason it blocked for.  ``thread_stacks`` holds
    :class:`OffCpuThreadStack` rows.
    """

    leaf_reasons: list[str] = attrs.field(factory=list)
    reasons: list[ReasonTotal] = attrs.field(factory=list)
    """Blocked reasons present, most time first (``preempted`` only in a ``runnable`` profile,
    where it is the one reason)."""
    preempted_spans: int = 0
    preempted_ns: int = 0
    """Runnable wait: switched out involuntarily while still runnable (never blocked time)."""
    recorded_spans: int = 0
    """Off-CPU spans in the whole recording, before the filter, preemptions included."""
    non_code_frames: int = 0
    """Distinct frames left out of the blocked stacks as not code (``[unknown]+0x...``: an address
    no mapping holds, such as a system call argument read as a return address)."""
    non_code_spans: int = 0
    """Blocked spans whose stack had such a frame left out."""

    @classmethod
    def from_recording(cls, recording: Recording, flt: SampleFilter = ALL_SAMPLES,
                       builder: DisplayTreeBuilder | None = None,
                       style: FrameStyle = DEFAULT_STYLE, runnable: bool = False) -> OffCpuProfile:
        """Aggregate ``recording``'s off-CPU spans passing ``flt`` (one SQL ``GROUP BY`` pass);
        ``builder`` as for :meth:`Profile.from_recording`, one made with ``drop_non_code`` (a new
        one leaves out frames that are not code, :func:`~stax.analysis.profile.is_non_code`).

        With ``runnable`` the tree holds the runnable wait instead (preempted spans, whose one
        reason is ``preempted``; the web UI's third mode), its frames dropped the same way."""
        builder = builder if builder is not None else display_tree_builder(recording, style,
                                                                           drop_non_code=True)
        thread_stacks: list[ThreadStack] = []
        per_leaf: dict[tuple[int, str], list[int]] = {}
        per_reason: dict[str, list[int]] = {}
        preempted = [0, 0]
        non_code_spans = 0
        non_code_frames: set[int] = set()
        for pid, tid, stack_id, reason, count, ns in recording.thread_off_cpu_stack_totals(
            flt, include_preempted=True
        ):
            ns = ns or 0
            if reason == PREEMPTED:
                preempted[0] += count
                preempted[1] += ns
                if not runnable:
                    continue
            elif runnable:
                continue
            node = builder.node_of(stack_id)
            if stack_id in builder.non_code_stacks:
                non_code_spans += count
                non_code_frames.update(builder.non_code_frames_of(stack_id))
            thread_stacks.append(OffCpuThreadStack(pid, tid, node, count, ns, reason))
            _add(per_leaf, (node, reason), count, ns)
            _add(per_reason, reason, count, ns)
        meta = recording.meta()
        duration = duration_from_meta(meta) if flt.is_empty() else None
        if duration is None:
            span = recording.off_cpu_time_range(flt)
            duration = span[1] - span[0] if span is not None else None
        total_fits(recording.path, sum(t[1] for t in per_leaf.values()) + preempted[1],
                   "the off-CPU span durations")
        reasons = [ReasonTotal(r, n, ns) for r, (n, ns) in per_reason.items()]
        reasons.sort(key=lambda r: (-r.ns, r.reason))
        return cls(
            source=str(recording.path),
            filter=flt,
            frames=builder.frames,
            node_parents=builder.node_parents,
            node_frames=builder.node_frames,
            leaf_nodes=array("q", (node for node, _ in per_leaf)),
            leaf_counts=array("q", (t[0] for t in per_leaf.values())),
            leaf_weights=array("q", (t[1] for t in per_leaf.values())),
            thread_stacks=thread_stacks,
            threads=recording.threads(),
            meta=meta,
            capabilities=recording.capabilities(),
            lost=recording.lost(),
            duration_ns=duration,
            recorded_samples=recording.sample_count(),
            leaf_reasons=[reason for _, reason in per_leaf],
            reasons=reasons,
            preempted_spans=preempted[0],
            preempted_ns=preempted[1],
            recorded_spans=recording.off_cpu_span_count(),
            non_code_frames=len(non_code_frames),
            non_code_spans=non_code_spans,
            incomplete=recording_incomplete_notice(recording, meta),
        )

    @classmethod
    def from_path(cls, path: str | Path, flt: SampleFilter = ALL_SAMPLES,
                  style: FrameStyle = DEFAULT_STYLE) -> OffCpuProfile:
        """Open, aggregate and close a recording file."""
        recording = Recording.open(path)
        try:
            return cls.from_recording(recording, flt, style=style)
        finally:
            recording.close()

    @property
    def blocked_ns(self) -> int:
        """Blocked time of the selected spans, in ns (the 100% of every percentage)."""
        return sum(self.leaf_weights)

    @property
    def blocked_spans(self) -> int:
        return sum(self.leaf_counts)

    def off_cpu_notes(self) -> list[str]:
        """Plain sentences about what this recording could not capture off the CPU, and why."""
        return off_cpu_notes(self.meta, self.capabilities)


def _add(table: dict, key: object, count: int, ns: int) -> None:
    totals = table.get(key)
    if totals is None:
        table[key] = [count, ns]
    else:
        totals[0] += count
        totals[1] += ns


OFF_CPU_CAPABILITIES = frozenset({Capability.OFF_CPU_INTERVALS, Capability.BLOCKED_REASON,
                                  Capability.WAKEUP_ATTRIBUTION})
"""The capability rows that change what an off-CPU view shows."""


def off_cpu_notes(meta: dict[str, object], capabilities: Sequence[CapabilityRow]) -> list[str]:
    """The recorder's notes and unavailable capability rows that concern off-CPU data.

    Views print them so a user reading blocked time knows what is missing (e.g. no
    wakers because tracefs was not mounted) and how to fix it.
    """
    recorded = meta.get(NOTES)
    notes = [str(n) for n in recorded if n and _about_off_cpu(str(n))] if isinstance(recorded, list) else []
    for row in capabilities:
        if row.capability not in OFF_CPU_CAPABILITIES or row.status is not CapabilityStatus.UNAVAILABLE:
            continue
        if row.reason and not any(row.reason in n for n in notes):
            notes.append(row.note)
    return notes


def _about_off_cpu(note: str) -> bool:
    lowered = note.lower()
    return any(word in lowered for word in ("off-cpu", "wakeup", "waker", "context switch",
                                            "context-switch", "sched_", "blocked"))
