"""``collapsed``: folded stacks, one ``root;...;leaf COUNT`` line per distinct stack.

This is the input format of flamegraph.pl and inferno.  A frame name may not
contain ``;`` (the frame separator) or a line break, so those become ``:`` and a
space; other control characters are written as ``\\xHH``
(:func:`stax.text_safety.printable`), so a name cannot send escape sequences to the
terminal the lines are printed on.  Names are plain function names by default (what
``stax top`` shows); with ``options.extra["annotate"]`` kernel frames carry the ``_[k]`` suffix,
inlined frames ``_[i]`` and JIT frames (perf maps, jitdump) ``_[j]``, the annotations both
tools colour by (as stackcollapse-perf.pl ``--all`` writes them).  ``stax export --format
folded`` is this renderer.  With ``options.extra["per_thread"]``
every line starts with a ``comm-tid`` frame.

Two renderers share the name, one per view: :class:`CollapsedRenderer` counts samples
(``ViewKind.PROFILE``); :class:`OffCpuCollapsedRenderer` draws an
:class:`~stax.analysis.off_cpu_profile.OffCpuProfile` (``ViewKind.OFF_CPU_PROFILE``,
``stax collapse --off-cpu``): the number on each line is blocked nanoseconds, not
samples, and ``options.extra["by_reason"]`` puts the blocked reason in as the root
frame (after the thread frame with ``per_thread``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from stax.text_safety import printable
from stax.views import ViewKind

if TYPE_CHECKING:
    from stax.analysis.off_cpu_profile import OffCpuProfile
    from stax.analysis.profile import DisplayFrame, Profile
    from stax.contracts import RenderOptions

ROOT = -1  # stax.analysis.profile.ROOT, not imported so the plugin loads cheaply

_TRANSLATE = str.maketrans({";": ":", "\n": " ", "\r": " "})


def folded_text(name: str) -> str:
    """A function or thread name as one frame of a folded line, printable on a terminal."""
    return printable(name.translate(_TRANSLATE))


def folded_name(frame: DisplayFrame, annotate: bool = False) -> str:
    """A frame name safe inside a folded line, with its kernel/inline annotation if asked."""
    name = folded_text(frame.name)
    if not annotate:
        return name
    if frame.is_inline:
        return name + "_[i]"
    if frame.is_kernel:
        return name + "_[k]"
    if frame.is_jit:
        return name + "_[j]"
    return name


def _folder(profile: Profile, annotate: bool) -> Callable[[int], str]:
    """``folded(node)``: the folded frames from the root down to ``node``."""
    names = [folded_name(f, annotate) for f in profile.frames]
    prefixes: dict[int, str] = {ROOT: ""}
    parents, frames = profile.node_parents, profile.node_frames

    def folded(node: int) -> str:
        # Memoised per node: stacks share prefixes, so each node is joined once.
        text = prefixes.get(node)
        if text is None:
            pending = []
            walk = node
            while walk not in prefixes:
                pending.append(walk)
                walk = parents[walk]
            text = prefixes[walk]
            for step in reversed(pending):
                text = f"{text};{names[frames[step]]}" if text else names[frames[step]]
                prefixes[step] = text
        return text

    return folded


class CollapsedRenderer:
    """Folded stacks of samples for flamegraph.pl, inferno and speedscope."""

    name = "collapsed"
    view = ViewKind.PROFILE
    formats = ("folded",)
    description = "Folded stacks (root;...;leaf COUNT), the input of flamegraph.pl and inferno."

    def render(self, profile: Profile, options: RenderOptions, out: IO[str]) -> None:
        folded = _folder(profile, bool(options.extra.get("annotate")))
        if options.extra.get("per_thread"):
            comms = {(t.pid, t.tid): t.name for t in profile.threads}
            totals: dict[str, int] = {}
            for row in profile.thread_stacks:
                comm = folded_text(comms.get((row.pid, row.tid), "?"))
                key = f"{comm}-{row.tid};{folded(row.node)}"
                totals[key] = totals.get(key, 0) + row.count
            lines = sorted(totals.items())
        else:
            lines = sorted((folded(node), count)
                           for node, count in zip(profile.leaf_nodes, profile.leaf_counts, strict=True))
        out.writelines(f"{stack} {count}\n" for stack, count in lines)


class OffCpuCollapsedRenderer:
    """Folded blocked stacks, each line's number being blocked nanoseconds."""

    name = "collapsed"
    view = ViewKind.OFF_CPU_PROFILE
    formats = ("folded",)
    description = "Folded blocked stacks (root;...;leaf NS); --by-reason puts the reason first."

    def render(self, profile: OffCpuProfile, options: RenderOptions, out: IO[str]) -> None:
        folded = _folder(profile, bool(options.extra.get("annotate")))
        lines = _blocked_lines(profile, folded, bool(options.extra.get("per_thread")),
                               bool(options.extra.get("by_reason")))
        out.writelines(f"{stack} {count}\n" for stack, count in lines)


def _blocked_lines(profile: OffCpuProfile, folded: Callable[[int], str], per_thread: bool,
                   by_reason: bool) -> list[tuple[str, int]]:
    """Folded lines weighted by blocked ns; one per distinct stack (and thread, and reason)."""
    totals: dict[str, int] = {}
    if per_thread:
        comms = {(t.pid, t.tid): t.name for t in profile.threads}
        for row in profile.thread_stacks:
            comm = folded_text(comms.get((row.pid, row.tid), "?"))
            reason = f"{getattr(row, 'reason', '')};" if by_reason else ""
            key = f"{comm}-{row.tid};{reason}{folded(row.node)}"
            totals[key] = totals.get(key, 0) + row.weight
    else:
        for node, reason, ns in zip(profile.leaf_nodes, profile.leaf_reasons, profile.leaf_weights,
                                    strict=True):
            key = f"{reason};{folded(node)}" if by_reason else folded(node)
            totals[key] = totals.get(key, 0) + ns
    return sorted(totals.items())
