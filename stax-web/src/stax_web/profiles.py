"""The profile of one mode and selection, built by the analysis layer.

``cpu`` is :class:`stax.analysis.profile.Profile` (samples per stack), ``offcpu`` is
:class:`stax.analysis.off_cpu_profile.OffCpuProfile` (blocked ns per stack and reason,
runnable wait kept out, as ``stax top --off-cpu`` does).  ``runnable`` is the part the
off-CPU profile leaves out: preempted spans (ready to run, no CPU free), as an
``OffCpuProfile`` whose one reason is ``preempted``, built with the same
:class:`~stax.analysis.profile.DisplayTreeBuilder` so its frames merge like the others.
Names come from the analysis layer, so they are shown as every CLI view shows them.
"""

from __future__ import annotations

from array import array

import attrs

from stax.analysis.off_cpu_profile import PREEMPTED, OffCpuProfile, OffCpuThreadStack
from stax.analysis.profile import DisplayTreeBuilder, Profile
from stax.recording.reader import Recording, SampleFilter


def load_profile(rec: Recording, mode: str, flt: SampleFilter, builder: DisplayTreeBuilder) -> Profile:
    """The profile ``mode`` (cpu, offcpu, runnable) shows for the samples or spans ``flt`` selects.

    ``builder`` is the session's one for ``rec`` (:func:`stax.analysis.profile.display_tree_builder`):
    a new selection maps only the stacks no earlier one had.  The profile gets copies of
    its node arrays, so a later selection growing the builder's leaves it as it was."""
    if mode == "cpu":
        profile = Profile.from_recording(rec, flt, builder, per_thread=False)
    elif mode == "offcpu":
        profile = OffCpuProfile.from_recording(rec, flt, builder)
    else:
        profile = runnable_profile(rec, flt, builder)
    return attrs.evolve(profile, frames=list(profile.frames), node_parents=array("q", profile.node_parents),
                        node_frames=array("q", profile.node_frames))


def runnable_profile(rec: Recording, flt: SampleFilter, builder: DisplayTreeBuilder) -> OffCpuProfile:
    """Runnable wait (preempted spans) per stack: counts are spans, weights ns."""
    per_node: dict[int, list[int]] = {}
    thread_stacks = []
    for pid, tid, stack_id, reason, count, ns in rec.thread_off_cpu_stack_totals(flt, include_preempted=True):
        if reason != PREEMPTED:
            continue
        node = builder.node_of(stack_id)
        thread_stacks.append(OffCpuThreadStack(pid, tid, node, count, ns or 0, reason))
        totals = per_node.setdefault(node, [0, 0])
        totals[0] += count
        totals[1] += ns or 0
    return OffCpuProfile(
        source=str(rec.path), filter=flt, frames=builder.frames, node_parents=builder.node_parents,
        node_frames=builder.node_frames, leaf_nodes=array("q", per_node),
        leaf_counts=array("q", (t[0] for t in per_node.values())),
        leaf_weights=array("q", (t[1] for t in per_node.values())),
        thread_stacks=thread_stacks, threads=rec.threads(), leaf_reasons=[PREEMPTED] * len(per_node),
        preempted_spans=sum(t[0] for t in per_node.values()),
        preempted_ns=sum(t[1] for t in per_node.values()),
        recorded_spans=rec.off_cpu_span_count(),
    )
