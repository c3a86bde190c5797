"""``flamegraph``: a standalone interactive SVG flame graph (no external resources).

Root-first by default, the root at the bottom.  With ``options.inverted`` it is
an icicle graph of the *inverted* call tree: stacks are merged callee first, so
the functions on CPU form the top row (the root level) and their callers hang
below them; a function's width there is its self time, summed over all callers.
The embedded script (``flamegraph.js``) gives click-to-zoom, a reset control,
regex/substring search with the matched share of samples, and hover details.

Two renderers share the name, one per view: :class:`FlamegraphRenderer` draws
samples (``ViewKind.PROFILE``), :class:`OffCpuFlamegraphRenderer` blocked time
(``ViewKind.OFF_CPU_PROFILE``, ``stax flamegraph --off-cpu``): widths are blocked
time and frames are coloured by blocked reason.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from stax.views import ViewKind

if TYPE_CHECKING:  # the analyses and the SVG writer load on first render
    from stax.analysis.call_tree import CallTree
    from stax.analysis.off_cpu_profile import OffCpuProfile
    from stax.analysis.profile import Profile
    from stax.contracts import RenderOptions


def _tree(profile: Profile, options: RenderOptions) -> CallTree:
    from stax.analysis.call_tree import call_tree, inverted_call_tree

    return inverted_call_tree(profile) if options.inverted else call_tree(profile)


class FlamegraphRenderer:
    """Interactive SVG flame graph of samples; ``options.inverted`` draws the callee-first icicle."""

    name = "flamegraph"
    view = ViewKind.PROFILE
    formats = ("svg",)
    description = "Interactive SVG flame graph (--inverted: callee-first icicle graph)."

    def render(self, profile: Profile, options: RenderOptions, out: IO[str]) -> None:
        from stax_render.flamegraph_svg import write_svg

        write_svg(_tree(profile, options), profile, options, out)


class OffCpuFlamegraphRenderer:
    """The same graph of blocked time, each frame coloured by its dominant blocked reason."""

    name = "flamegraph"
    view = ViewKind.OFF_CPU_PROFILE
    formats = ("svg",)
    description = "Interactive SVG flame graph of blocked time, coloured by blocked reason."

    def render(self, profile: OffCpuProfile, options: RenderOptions, out: IO[str]) -> None:
        import attrs

        from stax_render.flamegraph_off_cpu import BlockedTimeStyle
        from stax_render.flamegraph_svg import write_svg

        tree = _tree(profile, options)
        if not options.title:
            title = "Off-CPU Icicle Graph (inverted)" if options.inverted else "Off-CPU Flame Graph"
            options = attrs.evolve(options, title=title)
        write_svg(tree, profile, options, out, BlockedTimeStyle(tree, profile))
