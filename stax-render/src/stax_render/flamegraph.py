"""``flamegraph``: a standalone interactive SVG flame graph (no external resources).

Root-first by default, the root at the bottom.  With ``options.inverted`` it is
an icicle graph of the *inverted* call tree: stacks are merged callee first, so
the functions on CPU form the top row (the root level) and their callers hang
below them; a function's width there is its self time, summed over all callers.
The embedded script (``flamegraph.js``) gives click-to-zoom, a reset control,
regex/substring search with the matched share of samples, and hover details.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:  # the analyses and the SVG writer load on first render
    from stax.analysis.profile import Profile
    from stax.contracts import RenderOptions


class FlamegraphRenderer:
    """Interactive SVG flame graph; ``options.inverted`` draws the callee-first icicle."""

    name = "flamegraph"
    formats = ("svg",)
    description = "Interactive SVG flame graph (--inverted: callee-first icicle graph)."

    def render(self, profile: Profile, options: RenderOptions, out: IO[str]) -> None:
        from stax.analysis.call_tree import call_tree, inverted_call_tree
        from stax_render.flamegraph_svg import write_svg

        tree = inverted_call_tree(profile) if options.inverted else call_tree(profile)
        write_svg(tree, profile, options, out)
