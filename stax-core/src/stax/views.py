"""The views of a recording a renderer can draw, and the one input type of each.

A renderer declares the view it draws (its ``view`` attribute, a :class:`ViewKind`);
the command that shows a view builds that view's input from the recording and picks
the renderer by view and name, then checks the format.  So ``stax top`` and ``stax
top --off-cpu`` find two renderers named ``top`` (one per view), and ``stax threads``
finds the renderer named ``threads`` that draws thread breakdowns.  The input types
live in :mod:`stax.analysis` and load only when a view is built; this module imports
nothing heavy, because every plugin module imports it at start-up.

A new view (a sample timeline for an exporter, say) is one more member here with its
input type, a command or a builder in :mod:`stax.cli.view_inputs` that makes the input,
and renderers that declare it.
"""

from __future__ import annotations

import enum


class ViewKind(enum.StrEnum):
    """What a renderer draws; :data:`VIEW_INPUTS` names the object it is handed for each."""

    PROFILE = "profile"
    """On-CPU samples per stack: a :class:`stax.analysis.profile.Profile`."""
    OFF_CPU_PROFILE = "off-cpu-profile"
    """Blocked time per stack and reason: a :class:`stax.analysis.off_cpu_profile.OffCpuProfile`."""
    THREAD_BREAKDOWN = "thread-breakdown"
    """Per thread on-CPU, blocked and runnable-wait time and wakers:
    a :class:`stax.analysis.thread_breakdown.ThreadBreakdownView`."""
    WAKEUP_CHAINS = "wakeup-chains"
    """Blocked stacks with the stacks that woke them:
    a :class:`stax.analysis.wakeup_chains.WakeupChainsView`."""
    STACK_PROFILE = "stack-profile"
    """On- and off-CPU time per thread and recorded stack, each frame with its address, image
    (build id), file, line and inlined calls: a :class:`stax.analysis.stack_profile.StackProfile`
    (what the pprof and speedscope exports write)."""
    TIMELINE = "timeline"
    """A stack profile with time: samples per thread and time slice, and every off-CPU span:
    a :class:`stax.analysis.timeline.Timeline` (what the Firefox Profiler export writes)."""
    ANNOTATION = "annotation"
    """Functions' instructions with the samples (or blocked time) at each:
    a :class:`stax.analysis.annotation.Annotation`."""
    CALL_TREE = "call-tree"
    """One function's callers or callees as a tree with samples per node:
    a :class:`stax.analysis.focused_tree.FocusedCallTree`."""

    @property
    def noun(self) -> str:
        """What renderers of this view draw, in the plural, for sentences: ``off-CPU profiles``."""
        return _NOUNS[self]

    @property
    def command(self) -> str:
        """The ``stax`` command that shows this view, for sentences: ``annotate``."""
        return _COMMANDS[self]


VIEW_INPUTS: dict[ViewKind, str] = {
    ViewKind.PROFILE: "stax.analysis.profile:Profile",
    ViewKind.OFF_CPU_PROFILE: "stax.analysis.off_cpu_profile:OffCpuProfile",
    ViewKind.THREAD_BREAKDOWN: "stax.analysis.thread_breakdown:ThreadBreakdownView",
    ViewKind.WAKEUP_CHAINS: "stax.analysis.wakeup_chains:WakeupChainsView",
    ViewKind.STACK_PROFILE: "stax.analysis.stack_profile:StackProfile",
    ViewKind.TIMELINE: "stax.analysis.timeline:Timeline",
    ViewKind.ANNOTATION: "stax.analysis.annotation:Annotation",
    ViewKind.CALL_TREE: "stax.analysis.focused_tree:FocusedCallTree",
}
"""``module:class`` of each view's input, so this module imports no analysis."""

_NOUNS = {
    ViewKind.PROFILE: "profiles",
    ViewKind.OFF_CPU_PROFILE: "off-CPU profiles",
    ViewKind.THREAD_BREAKDOWN: "thread breakdowns",
    ViewKind.WAKEUP_CHAINS: "wakeup chains",
    ViewKind.STACK_PROFILE: "stack profiles",
    ViewKind.TIMELINE: "timelines",
    ViewKind.ANNOTATION: "annotations",
    ViewKind.CALL_TREE: "call trees",
}

_COMMANDS = {
    ViewKind.PROFILE: "top",
    ViewKind.OFF_CPU_PROFILE: "top --off-cpu",
    ViewKind.THREAD_BREAKDOWN: "threads",
    ViewKind.WAKEUP_CHAINS: "wakers",
    ViewKind.STACK_PROFILE: "export --format pprof",
    ViewKind.TIMELINE: "export --format firefox",
    ViewKind.ANNOTATION: "annotate",
    ViewKind.CALL_TREE: "callers",
}

_ALSO_DRAWN_AS = {ViewKind.OFF_CPU_PROFILE: ViewKind.PROFILE, ViewKind.TIMELINE: ViewKind.STACK_PROFILE}
"""An OffCpuProfile *is* a Profile (counts are spans, weights blocked ns), so a profile
renderer draws one truthfully when no off-CPU renderer of its name is installed; a
Timeline is a StackProfile with times added, likewise."""


def drawn_by(view: ViewKind) -> tuple[ViewKind, ...]:
    """The views whose renderers can draw ``view``'s input, the exact one first."""
    fallback = _ALSO_DRAWN_AS.get(view)
    return (view,) if fallback is None else (view, fallback)


def renderer_view(renderer: object) -> ViewKind | None:
    """The view ``renderer`` declares; a profile when it declares none; None for a view unknown here.

    Declaring nothing is the contract of stax 0.1, kept so an older renderer still draws
    profiles; a view this stax does not know (a newer plugin) is None and not offered.
    """
    declared = getattr(renderer, "view", ViewKind.PROFILE)
    try:
        return ViewKind(declared)
    except ValueError:
        return None
