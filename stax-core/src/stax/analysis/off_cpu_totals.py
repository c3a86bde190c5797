"""Blocked time per function and per call-tree node, split by blocked reason.

The numbers behind ``stax top --off-cpu`` and the reason colours of the off-CPU
flame graph.  Every off-CPU stack ends in the same kernel scheduler frames, so
"self" time by leaf says little; what a user wants is *inclusive* blocked time
(every span whose switch-out stack passes through the function, counted once
per span even when it recurses) and what the function was waiting for.
"""

from __future__ import annotations

from collections.abc import Collection

import attrs

from stax.analysis.call_tree import TREE_ROOT, CallTree
from stax.analysis.off_cpu_profile import OffCpuProfile
from stax.analysis.profile import ROOT, DisplayFrame


@attrs.frozen(slots=True)
class BlockedFunctionTotal:
    """One function's inclusive share of the selected blocked time."""

    frame: DisplayFrame
    spans: int
    ns: int
    percent: float
    reasons: tuple[tuple[str, int], ...]
    """(reason, ns) pairs, most time first."""


def shared_kernel_frames(profile: OffCpuProfile) -> list[int]:
    """The kernel frames on every blocked stack (the system call entry, ``schedule``), outermost
    first: each has 100% of the blocked time and so says nothing about why threads blocked.

    ``stax top --off-cpu`` leaves them out of its ranking (``--no-kernel-common``, the default),
    so its first rows are the first frames that differ between blocked stacks.
    """
    parents, frames = profile.node_parents, profile.node_frames
    shared: list[int] | None = None
    for node in set(profile.leaf_nodes):
        path: list[int] = []
        walk = node
        while walk != ROOT:
            path.append(frames[walk])
            walk = parents[walk]
        if shared is None:
            shared = [f for f in reversed(path) if profile.frames[f].is_kernel]
        else:
            on_path = set(path)
            shared = [f for f in shared if f in on_path]
        if not shared:
            return []
    return shared or []


def function_blocked_totals(profile: OffCpuProfile,
                            leave_out: Collection[int] = ()) -> list[BlockedFunctionTotal]:
    """Every function on a blocked stack, by inclusive blocked time, then user before kernel;
    but the frame ids in ``leave_out`` (:func:`shared_kernel_frames`, say).

    Ties are common (every frame of a single sleeping stack has 100%), so user code,
    which the user can change, is listed before kernel code, each in call order
    (outermost first), so a tied group reads like the stack it came from.
    """
    # Merge the leaf entries per node first: the walk below then runs once per distinct stack.
    per_node: dict[int, dict[str, list[int]]] = {}
    for node, reason, count, ns in zip(profile.leaf_nodes, profile.leaf_reasons,
                                       profile.leaf_counts, profile.leaf_weights, strict=True):
        totals = per_node.setdefault(node, {}).setdefault(reason, [0, 0])
        totals[0] += count
        totals[1] += ns
    spans: dict[int, int] = {}
    blocked: dict[int, int] = {}
    by_reason: dict[int, dict[str, int]] = {}
    depth: dict[int, int] = {}
    parents, frames = profile.node_parents, profile.node_frames
    for node, reasons in per_node.items():
        path: list[int] = []
        walk = node
        while walk != ROOT:
            path.append(frames[walk])
            walk = parents[walk]
        on_stack = set(path)  # a set: a recursive function counts once per span
        for level, frame in enumerate(reversed(path)):
            if level < depth.get(frame, level + 1):
                depth[frame] = level
        node_spans = sum(c for c, _ in reasons.values())
        node_ns = sum(ns for _, ns in reasons.values())
        for frame in on_stack:
            spans[frame] = spans.get(frame, 0) + node_spans
            blocked[frame] = blocked.get(frame, 0) + node_ns
            split = by_reason.setdefault(frame, {})
            for reason, (_, ns) in reasons.items():
                split[reason] = split.get(reason, 0) + ns
    total = profile.blocked_ns
    scale = 100.0 / total if total else 0.0
    rows = [
        BlockedFunctionTotal(profile.frames[f], spans[f], blocked[f], blocked[f] * scale,
                             tuple(sorted(by_reason[f].items(), key=lambda r: (-r[1], r[0]))))
        for f in blocked if f not in leave_out
    ]
    order = {profile.frames[f]: depth[f] for f in blocked}
    rows.sort(key=lambda r: (-r.ns, r.frame.is_kernel, order[r.frame], r.frame.name))
    return rows


def node_reason_weights(tree: CallTree, profile: OffCpuProfile) -> list[dict[str, int] | None]:
    """Blocked ns per reason for every node of ``tree`` (index = tree node), None where none.

    ``tree`` is :func:`~stax.analysis.call_tree.call_tree` or
    :func:`~stax.analysis.call_tree.inverted_call_tree` of ``profile`` (only the nodes it
    expanded and their children get a split).
    """
    weights: list[dict[str, int] | None] = [None] * len(tree)

    def add(node: int, reason: str, ns: int) -> None:
        split = weights[node]
        if split is None:
            split = weights[node] = {}
        split[reason] = split.get(reason, 0) + ns

    entries = zip(profile.leaf_nodes, profile.leaf_reasons, profile.leaf_weights, strict=True)
    parents, frames = profile.node_parents, profile.node_frames
    if not tree.inverted:
        # call_tree() keeps the profile's node ids shifted by one (its root is node 0).
        tree_parent = tree.parent
        for leaf, reason, ns in entries:
            node = leaf + 1
            while node != -1:
                add(node, reason, ns)
                node = tree_parent[node]
        return weights
    for leaf, reason, ns in entries:
        node: int | None = TREE_ROOT
        add(TREE_ROOT, reason, ns)
        walk = leaf
        while walk != ROOT:
            node = tree.child_of(node, frames[walk])
            if node is None:  # below a node the tree did not expand
                break
            add(node, reason, ns)
            walk = parents[walk]
    return weights


def dominant_reason(split: dict[str, int] | None) -> str | None:
    """The reason with the most time in ``split`` (ties by name), None for an empty split."""
    if not split:
        return None
    return min(split.items(), key=lambda r: (-r[1], r[0]))[0]
