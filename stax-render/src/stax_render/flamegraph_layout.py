"""Where each frame of a flame graph goes: depth, first unit and width in units.

Units are samples for on-CPU graphs and blocked nanoseconds for off-CPU ones: the
caller passes the per-node widths (the tree's total counts by default).

Children are placed in name order (so the same callee always sits in the same
place relative to its siblings, as in flamegraph.pl), and a subtree narrower
than the smallest drawable width is left out: its samples still widen its parent.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from stax.analysis.call_tree import TREE_ROOT, CallTree


@attrs.frozen(slots=True)
class FlameRect:
    """One frame to draw; ``start`` and ``count`` are in width units, ``depth`` 0 is the root."""

    node: int
    depth: int
    start: int
    count: int


def layout(tree: CallTree, min_count: float, widths: Sequence[int] | None = None) -> list[FlameRect]:
    """Rectangles for every node of ``tree`` at least ``min_count`` units wide, root first.

    ``widths`` gives each node's width (default: ``tree.total_count``, samples).
    """
    rects: list[FlameRect] = []
    total = widths if widths is not None else tree.total_count
    if total[TREE_ROOT] == 0:
        return rects
    names = [f.name for f in tree.frames]
    frame = tree.frame
    stack: list[tuple[int, int, int]] = [(TREE_ROOT, 0, 0)]
    while stack:
        node, depth, start = stack.pop()
        rects.append(FlameRect(node, depth, start, total[node]))
        children = [c for c in tree.children(node) if total[c] >= min_count]
        if not children:
            continue
        children.sort(key=lambda c: names[frame[c]])
        placed: list[tuple[int, int, int]] = []
        offset = start
        for child in children:
            placed.append((child, depth + 1, offset))
            offset += total[child]
        stack.extend(reversed(placed))
    return rects


def fit_text(name: str, width_px: float, char_width: float) -> str:
    """``name`` cut to fit ``width_px`` (``..`` marks a cut); empty when under 3 characters fit."""
    fits = int((width_px - 6) / char_width)
    if fits < 3:
        return ""
    if len(name) <= fits:
        return name
    return name[: fits - 2] + ".."
