"""The profile of one mode and selection, built by the analysis layer.

``cpu`` is :class:`stax.analysis.profile.Profile` (samples per stack), ``offcpu`` is
:class:`stax.analysis.off_cpu_profile.OffCpuProfile` (blocked ns per stack and reason,
runnable wait kept out, as ``stax top --off-cpu`` does).  ``runnable`` is the part the
off-CPU profile leaves out: preempted spans (ready to run, no CPU free), the same class's
``runnable`` profile, whose one reason is ``preempted``.  Off the CPU, frames that are not
code (``[unknown]+0x...``) are dropped and counted as the CLI's off-CPU views do.  Names
come from the analysis layer, so they are shown as every CLI view shows them.
"""

from __future__ import annotations

from array import array

import attrs

from stax.analysis.off_cpu_profile import OffCpuProfile
from stax.analysis.profile import DisplayTreeBuilder, Profile
from stax.recording.reader import Recording, SampleFilter


def load_profile(rec: Recording, mode: str, flt: SampleFilter, builder: DisplayTreeBuilder) -> Profile:
    """The profile ``mode`` (cpu, offcpu, runnable) shows for the samples or spans ``flt`` selects.

    ``builder`` is the session's one for ``rec`` and the mode (:meth:`stax_web.session.Session.builder`;
    off the CPU one made with ``drop_non_code``, as the CLI's off-CPU views): a new selection
    maps only the stacks no earlier one had.  The profile gets copies of its node arrays, so
    a later selection growing the builder's leaves it as it was."""
    if mode == "cpu":
        profile = Profile.from_recording(rec, flt, builder, per_thread=False)
    else:
        profile = OffCpuProfile.from_recording(rec, flt, builder, runnable=mode == "runnable")
    return attrs.evolve(profile, frames=list(profile.frames), node_parents=array("q", profile.node_parents),
                        node_frames=array("q", profile.node_frames))
