"""``/api/flame``: the call tree of a selection as one compact preorder array, capped.

The same payload draws the flame graph, the icicle and the call tree (``invert=1``:
bottom-up).  Node 0 is the synthetic root ``all``; each node is ``[name index, image
index, parent, total, self, kind]`` with names and images interned once.  A big
recording's tree has far more nodes than a screen shows, so nodes below
:data:`MIN_FRACTION` of the root (0.01%) are left out, and so are the smallest ones past
:data:`MAX_NODES`; ``dropped`` says how many and how much, and a node's dropped
children are the gap ``total - self - sum(children)``.
"""

from __future__ import annotations

import heapq
import math

from stax.analysis.call_tree import TREE_ROOT, CallTree, call_tree, inverted_call_tree
from stax.analysis.off_cpu_profile import OffCpuProfile
from stax.analysis.profile import ROOT, DisplayFrame, Profile

MIN_FRACTION = 1e-4
"""Nodes with less than this share of the root are left out (0.01%; a pixel of a 10,000 px graph)."""
MAX_NODES = 50_000
"""At most this many nodes per payload (a few MB of JSON); the smallest go first."""
ROOT_NAME = "all"

USER, KERNEL, JIT, INLINE = 0, 1, 2, 3


def frame_kind(frame: DisplayFrame) -> int:
    if frame.is_kernel:
        return KERNEL
    if frame.is_inline:
        return INLINE
    return JIT if frame.is_jit else USER


def tree_of(profile: Profile, inverted: bool) -> CallTree:
    """The analysis layer's root-first or inverted (bottom-up) call tree of ``profile``."""
    return inverted_call_tree(profile) if inverted else call_tree(profile)


def values(tree: CallTree, unit: str) -> tuple[list[int], list[int]]:
    """(total, self) per node in the payload's unit: samples (counts) or ns (weights)."""
    if unit == "samples":
        return tree.total_count.tolist(), tree.self_count.tolist()
    return tree.total_weight.tolist(), tree.self_weight.tolist()


def shown_nodes(tree: CallTree, totals: list[int]) -> tuple[list[int], dict[str, int]]:
    """Tree nodes to send, in preorder (children by total, largest first), and what was left out."""
    root_total = totals[TREE_ROOT]
    threshold = max(1, math.ceil(root_total * MIN_FRACTION))
    if len(totals) > MAX_NODES and sum(1 for t in totals if t >= threshold) > MAX_NODES:
        # a node's total is at least each descendant's, so "total >= t" keeps whole paths from the root
        threshold = max(threshold, heapq.nlargest(MAX_NODES, totals)[-1])
    kids = tree.children_lists()
    order: list[int] = []
    dropped_nodes = dropped_value = 0
    stack = [TREE_ROOT]
    while stack:
        node = stack.pop()
        order.append(node)
        shown = []
        for child in kids[node]:
            if totals[child] >= threshold and len(order) + len(stack) + len(shown) < MAX_NODES:
                shown.append(child)
            else:
                dropped_nodes += 1
                dropped_value += totals[child]
        shown.sort(key=lambda c: totals[c])  # popped largest first
        stack.extend(shown)
    return order, {"nodes": dropped_nodes, "value": dropped_value, "min_value": threshold}


def flame_payload(profile: Profile, unit: str, inverted: bool, tree: CallTree | None = None) -> dict:
    """The ``/api/flame`` JSON of ``profile`` (already transformed) in ``unit``."""
    tree = tree if tree is not None else tree_of(profile, inverted)
    totals, selfs = values(tree, unit)
    order, dropped = shown_nodes(tree, totals)
    out_index = {node: i for i, node in enumerate(order)}
    names: dict[str, int] = {}
    images: dict[str, int] = {}
    nodes = []
    for node in order:
        if node == TREE_ROOT:
            name, image, kind, parent = ROOT_NAME, "", USER, -1
        else:
            frame = tree.frame_of(node)
            name, image, kind = frame.name, frame.image, frame_kind(frame)
            parent = out_index[tree.parent[node]]
        nodes.append([names.setdefault(name, len(names)), images.setdefault(image, len(images)),
                      parent, totals[node], selfs[node], kind])
    payload: dict[str, object] = {"total": totals[TREE_ROOT], "unit": unit, "names": list(names),
                                  "images": list(images), "nodes": nodes, "dropped": dropped}
    if isinstance(profile, OffCpuProfile):
        payload["reasons"] = node_reasons(profile, tree, out_index)
    return payload


def node_reasons(profile: OffCpuProfile, tree: CallTree,
                 out_index: dict[int, int]) -> dict[str, dict[str, int]]:
    """Per sent node: off-CPU ns by reason, its whole subtree's (the colour of a frame)."""
    out: dict[int, dict[str, int]] = {}
    parents, frames = profile.node_parents, profile.node_frames
    entries = zip(profile.leaf_nodes, profile.leaf_weights, profile.leaf_reasons, strict=True)
    for leaf, weight, reason in entries:
        for node in _tree_path(tree, leaf, parents, frames):
            index = out_index.get(node)
            if index is not None:
                table = out.setdefault(index, {})
                table[reason] = table.get(reason, 0) + weight
    return {str(index): table for index, table in sorted(out.items())}


def _tree_path(tree: CallTree, leaf: int, parents, frames) -> list[int]:
    """The tree nodes a leaf entry of the profile counts in: its node and every ancestor."""
    if not tree.inverted:
        out, node = [], leaf + 1  # call_tree: profile node n is tree node n + 1
        while node != -1:
            out.append(node)
            node = tree.parent[node]
        return out
    out, node, walk = [TREE_ROOT], TREE_ROOT, leaf
    while walk != ROOT:
        node = tree.child_of(node, frames[walk])
        out.append(node)
        walk = parents[walk]
    return out
