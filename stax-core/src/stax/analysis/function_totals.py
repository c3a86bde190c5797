"""Self and total samples per function, the numbers behind ``stax top``.

``self`` counts samples where the function was on CPU (the leaf); ``total``
counts samples where it was anywhere on the stack, once per sample even when it
recurses, so no total exceeds 100%.
"""

from __future__ import annotations

import attrs

from stax.analysis.call_tree import TREE_ROOT, CallTree, call_tree
from stax.analysis.profile import DisplayFrame, Profile


@attrs.frozen(slots=True)
class FunctionTotal:
    """One function's share of the selected samples."""

    frame: DisplayFrame
    self_count: int
    self_weight: int
    total_count: int
    total_weight: int
    self_percent: float
    total_percent: float


def function_totals(profile: Profile, tree: CallTree | None = None) -> list[FunctionTotal]:
    """Every function with samples, by self count, then total count, then name (descending).

    Pass ``tree`` when the caller already built the root-first :func:`call_tree`.
    """
    tree = tree if tree is not None else call_tree(profile)
    frame_count = len(profile.frames)
    frame_of = tree.frame.tolist()
    node_self, node_self_weight = tree.self_count.tolist(), tree.self_weight.tolist()
    node_total, node_total_weight = tree.total_count.tolist(), tree.total_weight.tolist()
    self_count = [0] * frame_count
    self_weight = [0] * frame_count
    for node in range(1, len(frame_of)):
        if node_self[node]:
            frame = frame_of[node]
            self_count[frame] += node_self[node]
            self_weight[frame] += node_self_weight[node]
    # A node adds to its function's total only when no ancestor is the same function:
    # the ancestor's total already holds these samples (recursion).  Depth-first, with
    # ~node pushed to mark leaving a node.
    total_count = [0] * frame_count
    total_weight = [0] * frame_count
    on_path = [0] * frame_count
    kids = tree.children_lists()
    stack: list[int] = list(kids[TREE_ROOT])
    while stack:
        node = stack.pop()
        if node < 0:
            on_path[frame_of[~node]] -= 1
            continue
        frame = frame_of[node]
        if not on_path[frame]:
            total_count[frame] += node_total[node]
            total_weight[frame] += node_total_weight[node]
        on_path[frame] += 1
        stack.append(~node)
        stack.extend(kids[node])
    samples = tree.sample_count
    scale = 100.0 / samples if samples else 0.0
    rows = [
        FunctionTotal(profile.frames[f], self_count[f], self_weight[f], total_count[f],
                      total_weight[f], self_count[f] * scale, total_count[f] * scale)
        for f in range(frame_count) if total_count[f]
    ]
    rows.sort(key=lambda r: (-r.self_count, -r.total_count, r.frame.name))
    return rows
