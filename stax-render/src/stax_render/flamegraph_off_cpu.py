"""The off-CPU flame graph style: widths are blocked time, colours are blocked reasons.

A frame takes the hue of the reason that holds most of its blocked time (the
legend lists the reasons present); its tooltip gives the time in ms, its share
and the split by reason, so a frame whose callees block for several reasons
says so.  Runnable wait (preempted) is not in the graph; the subtitle gives it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stax_render.blocked_time_text import format_ms, reason_split_text, spans_text
from stax_render.palette import reason_colour, reason_frame_colour

if TYPE_CHECKING:
    from stax.analysis.call_tree import CallTree
    from stax.analysis.off_cpu_profile import OffCpuProfile
    from stax.analysis.profile import DisplayFrame


class BlockedTimeStyle:
    """Widths in blocked ns; each frame coloured by its dominant blocked reason."""

    unit = "blocked time"
    root_info = "all blocked time"

    def __init__(self, tree: CallTree, profile: OffCpuProfile) -> None:
        from stax.analysis.off_cpu_totals import dominant_reason, node_reason_weights

        self.widths = tree.total_weight
        self.splits = node_reason_weights(tree, profile)
        self.dominant = [dominant_reason(split) for split in self.splits]
        self.legend = [(r.reason, reason_colour(r.reason)) for r in profile.reasons]
        preempted = ""
        if profile.preempted_spans:
            preempted = (f"; runnable wait (preempted, not shown) {format_ms(profile.preempted_ns)}"
                         f" in {spans_text(profile.preempted_spans)}")
        self.subtitle = (f"{profile.source}: {format_ms(profile.blocked_ns)} blocked in"
                         f" {spans_text(profile.blocked_spans)}{preempted}")

    def colour(self, node: int, frame: DisplayFrame) -> str:
        return reason_frame_colour(self.dominant[node], frame)

    def amount(self, node: int, width: int, percent: float) -> str:
        split = reason_split_text(self.splits[node], width)
        return f"{format_ms(width)} blocked, {percent:.2f}%" + (f"\n{split}" if split else "")
