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
    self_count = [0] * frame_count
    self_weight = [0] * frame_count
    total_count = [0] * frame_count
    total_weight = [0] * frame_count
    frame_of = tree.frame
    for node in range(1, len(tree)):
        frame = frame_of[node]
        self_count[frame] += tree.self_count[node]
        self_weight[frame] += tree.self_weight[node]
    # A node adds to its function's total only when no ancestor is the same function:
    # the ancestor's total already holds these samples (recursion).
    on_path = [0] * frame_count
    stack: list[int] = list(reversed(tree.children(TREE_ROOT)))
    while stack:
        node = stack.pop()
        if node < 0:  # leaving ~node
            on_path[frame_of[~node]] -= 1
            continue
        frame = frame_of[node]
        if not on_path[frame]:
            total_count[frame] += tree.total_count[node]
            total_weight[frame] += tree.total_weight[node]
        on_path[frame] += 1
        stack.append(~node)
        stack.extend(reversed(tree.children(node)))
    samples = tree.sample_count
    scale = 100.0 / samples if samples else 0.0
    rows = [
        FunctionTotal(profile.frames[f], self_count[f], self_weight[f], total_count[f],
                      total_weight[f], self_count[f] * scale, total_count[f] * scale)
        for f in range(frame_count) if total_count[f]
    ]
    rows.sort(key=lambda r: (-r.self_count, -r.total_count, r.frame.name))
    return rows
