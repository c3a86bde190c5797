"""The input of each view, built from a recording, or one sentence saying why there is none.

One builder per :class:`stax.views.ViewKind`: ``stax top`` and ``stax threads`` use the
one of their view, ``stax render`` the one of whatever view the named renderer
draws.  An empty selection is an error (with the command that shows what there is),
never an empty table.  A recording that ``stax record`` did not finish is shown as far
as it goes: with ``announce`` (every format but JSON, which carries it as the input's
``incomplete`` field) the "incomplete recording" sentence goes to stderr first.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from stax.analysis.frame_names import DEFAULT_STYLE, FrameStyle
from stax.errors import StaxError
from stax.recording.meta_keys import BACKEND_OFF_CPU, OFF_CPU_RECORDED
from stax.text_safety import printable
from stax.views import ViewKind

if TYPE_CHECKING:  # the analyses load when a view is built, so `stax --help` stays fast
    from stax.analysis.focused_tree import FocusedCallTree
    from stax.analysis.off_cpu_profile import OffCpuProfile
    from stax.analysis.profile import Profile
    from stax.analysis.stack_profile import StackProfile
    from stax.analysis.thread_breakdown import ThreadBreakdownView
    from stax.analysis.wakeup_chains import WakeupChainsView
    from stax.capabilities import CapabilityRow
    from stax.cli.view_commands import Selection

DEFAULT_WAKERS_LIMIT = 10
"""Blocked stacks ``stax wakers`` shows unless ``-n`` says otherwise."""
DEFAULT_MAX_WAKERS = 3
"""Wakers per blocked stack ``stax wakers`` shows unless ``-w`` says otherwise."""


class NoBlockedTime(StaxError):
    """The recording (or the selection) holds no blocked off-CPU time: a fact about it, not a
    mistake of the user's, so ``stax wakers`` says so and exits 0."""


def say_incomplete(notice: str | None) -> None:
    """Print the "incomplete recording" sentence on stderr (text views; JSON carries it as a field)."""
    if notice:
        print(f"stax: {printable(notice)}", file=sys.stderr)


def no_off_cpu_data_message(recording: Path, meta: dict[str, object],
                            capabilities: list[CapabilityRow]) -> str:
    """Why a recording has no off-CPU spans, as one sentence with the fix."""
    from stax.analysis.off_cpu_profile import off_cpu_notes

    notes = off_cpu_notes(meta, capabilities)
    if meta.get(OFF_CPU_RECORDED) is False or meta.get(BACKEND_OFF_CPU.key) is False:
        return (f"{recording} has no off-CPU data: it was recorded with --no-off-cpu; record it"
                f" again without that flag (`stax record -o {recording} -- CMD`).")
    if notes:
        return (f"{recording} has no off-CPU data ({notes[0].rstrip('.')}); fix that and record"
                f" again with `stax record -o {recording} -- CMD`.")
    return (f"{recording} has no off-CPU data; record it again with `stax record -o {recording} --"
            " CMD` (off-CPU capture is on by default; `stax doctor` says whether this host allows it).")


def load_profile(recording: Path, selection: Selection, announce: bool,
                 style: FrameStyle = DEFAULT_STYLE) -> Profile:
    """On-CPU samples per stack (``ViewKind.PROFILE``); no sample selected is one sentence."""
    from stax.analysis.profile import Profile

    profile = Profile.from_path(recording, selection.to_filter(), style)
    if profile.sample_count == 0:
        if selection.describe():
            raise StaxError(
                f"No samples in {recording} match {selection.describe()}; run `stax top {recording}`"
                " without filters to see which threads were recorded."
            )
        raise StaxError(
            f"{recording} holds no samples; record for longer or check that the target runs on CPU."
        )
    if announce:
        say_incomplete(profile.incomplete)
    return profile


def load_off_cpu_profile(recording: Path, selection: Selection, announce: bool,
                         style: FrameStyle = DEFAULT_STYLE) -> OffCpuProfile:
    """Blocked time per stack and reason (``ViewKind.OFF_CPU_PROFILE``); none is one sentence."""
    from stax.analysis.off_cpu_profile import OffCpuProfile

    profile = OffCpuProfile.from_path(recording, selection.to_filter(), style)
    if profile.recorded_spans == 0:
        raise StaxError(no_off_cpu_data_message(recording, profile.meta, profile.capabilities))
    if profile.blocked_spans == 0:
        if profile.preempted_spans == 0:
            raise StaxError(
                f"No off-CPU spans in {recording} match {selection.describe()}; run"
                f" `stax threads {recording}` to see which threads were recorded."
            )
        where = f" matching {selection.describe()}" if selection.describe() else ""
        raise StaxError(
            f"{recording} has no blocked time{where}, only {profile.preempted_ns / 1e6:,.1f} ms of"
            f" runnable wait (preempted) in {profile.preempted_spans:,}"
            f" span{'' if profile.preempted_spans == 1 else 's'}; `stax threads"
            f" {recording}` shows it per thread."
        )
    if announce:
        say_incomplete(profile.incomplete)
    return profile


def load_thread_breakdown(recording: Path, selection: Selection, limit: int | None,
                          announce: bool, woken: bool = False) -> ThreadBreakdownView:
    """Each selected thread's time (``ViewKind.THREAD_BREAKDOWN``), the first ``limit`` (None: all)."""
    from stax.analysis.off_cpu_profile import off_cpu_notes
    from stax.analysis.sample_weight import sample_weight
    from stax.analysis.thread_breakdown import ThreadBreakdownView, thread_breakdown
    from stax.recording.reader import Recording
    from stax.recording.recording_state import recording_incomplete_notice

    rec = Recording.open(recording)
    try:
        every = thread_breakdown(rec, selection.to_filter(), woken=True)
        has_off_cpu = rec.off_cpu_span_count() > 0
        meta, capabilities = rec.meta(), rec.capabilities()
        incomplete = recording_incomplete_notice(rec, meta)
    finally:
        rec.close()
    if announce:
        say_incomplete(incomplete)
    rows = every if woken else [row for row in every if not row.only_woken]
    if not rows:
        if selection.describe():
            raise StaxError(f"No threads in {recording} match {selection.describe()}; run"
                            f" `stax threads {recording}` without filters to see them all.")
        raise StaxError(f"{recording} holds no samples and no off-CPU data; record for longer.")
    notes = off_cpu_notes(meta, capabilities)
    if not has_off_cpu:
        notes.insert(0, no_off_cpu_data_message(recording, meta, capabilities))
    shown = rows if limit is None or limit < 0 else rows[:limit]
    return ThreadBreakdownView(str(recording), tuple(shown), len(rows), has_off_cpu, tuple(notes),
                               len(every) - len(rows), incomplete, sample_weight(meta))


def load_wakeup_chains(recording: Path, selection: Selection, limit: int | None, max_wakers: int | None,
                       announce: bool, style: FrameStyle = DEFAULT_STYLE) -> WakeupChainsView:
    """Blocked stacks with their wakers (``ViewKind.WAKEUP_CHAINS``): the first ``limit``, each
    with its first ``max_wakers`` (None or negative: all)."""
    from stax.analysis.off_cpu_profile import off_cpu_notes
    from stax.analysis.wakeup_chains import WakeupChainsView, wakeup_chains
    from stax.recording.reader import Recording
    from stax.recording.recording_state import recording_incomplete_notice

    rec = Recording.open(recording)
    try:
        incomplete = recording_incomplete_notice(rec)
        if announce:
            say_incomplete(incomplete)
        if rec.off_cpu_span_count() == 0:
            raise NoBlockedTime(no_off_cpu_data_message(recording, rec.meta(), rec.capabilities()))
        chains = wakeup_chains(rec, selection.to_filter(), _all_if_negative(limit),
                               _all_if_negative(max_wakers), style)
        notes = off_cpu_notes(rec.meta(), rec.capabilities())
    finally:
        rec.close()
    if not chains.chain_count:
        where = f" matching {selection.describe()}" if selection.describe() else ""
        raise NoBlockedTime(f"{recording} has no blocked off-CPU spans{where}; `stax threads"
                        f" {recording}` shows each thread's off-CPU time.")
    return WakeupChainsView(str(recording), chains, tuple(notes), incomplete)


def load_stack_profile(view: ViewKind, recording: Path, selection: Selection,
                       announce: bool, style: FrameStyle = DEFAULT_STYLE) -> StackProfile:
    """On- and off-CPU time per thread and recorded stack (``ViewKind.STACK_PROFILE``), with time
    slices and spans for ``ViewKind.TIMELINE``; nothing selected is one sentence."""
    from stax.analysis.stack_profile import StackProfile
    from stax.analysis.timeline import Timeline

    kind = Timeline if view is ViewKind.TIMELINE else StackProfile
    profile = kind.from_path(recording, selection.to_filter(), style)
    if not profile.on_cpu and not profile.off_cpu:
        if selection.describe():
            raise StaxError(
                f"No samples or off-CPU spans in {recording} match {selection.describe()}; run"
                f" `stax threads {recording}` to see which threads were recorded."
            )
        raise StaxError(
            f"{recording} holds no samples and no off-CPU data; record for longer or check that"
            " the target runs."
        )
    if announce:
        say_incomplete(profile.incomplete)
    return profile


def load_focused_tree(recording: Path, function: str, direction: str, selection: Selection,
                      style: FrameStyle, announce: bool) -> FocusedCallTree:
    """The callers or callees of ``function`` (``ViewKind.CALL_TREE``); an unknown or ambiguous
    name is one sentence."""
    from stax.analysis.focused_tree import focused_tree, match_function

    profile = load_profile(recording, selection, announce, style)
    name = match_function(profile, function, str(recording))
    return focused_tree(profile, name, "callers" if direction == "callers" else "callees")


def _all_if_negative(limit: int | None) -> int | None:
    return None if limit is None or limit < 0 else limit


BUILT_BY_RENDER = (ViewKind.PROFILE, ViewKind.OFF_CPU_PROFILE, ViewKind.THREAD_BREAKDOWN,
                   ViewKind.WAKEUP_CHAINS, ViewKind.STACK_PROFILE, ViewKind.TIMELINE)
"""The views ``stax render`` can build from a recording and a selection alone."""


def load_view(view: ViewKind, recording: Path, selection: Selection, limit: int | None,
              announce: bool, style: FrameStyle = DEFAULT_STYLE) -> object:
    """The input of ``view`` (one of :data:`BUILT_BY_RENDER`), with each view's default limits,
    frames named and merged as ``style`` says."""
    if view is ViewKind.PROFILE:
        return load_profile(recording, selection, announce, style)
    if view is ViewKind.OFF_CPU_PROFILE:
        return load_off_cpu_profile(recording, selection, announce, style)
    if view is ViewKind.THREAD_BREAKDOWN:
        return load_thread_breakdown(recording, selection, limit, announce)
    if view is ViewKind.WAKEUP_CHAINS:
        return load_wakeup_chains(recording, selection, DEFAULT_WAKERS_LIMIT if limit is None else limit,
                                  DEFAULT_MAX_WAKERS, announce, style)
    if view in (ViewKind.STACK_PROFILE, ViewKind.TIMELINE):
        return load_stack_profile(view, recording, selection, announce, style)
    raise ValueError(f"stax render cannot build the {view} view")  # callers check BUILT_BY_RENDER
