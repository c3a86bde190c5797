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
from collections.abc import Hashable

from stax.analysis.call_tree import TREE_ROOT, CallTree, call_tree, inverted_call_tree
from stax.analysis.off_cpu_profile import OffCpuProfile
from stax.analysis.off_cpu_totals import node_reason_weights
from stax.analysis.profile import DisplayFrame, Profile

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
    """The analysis layer's whole root-first or inverted (bottom-up) call tree of ``profile``."""
    return inverted_call_tree(profile) if inverted else call_tree(profile)


def sent_tree(profile: Profile, unit: str, inverted: bool) -> CallTree:
    """The tree a payload is cut from: root-first, the profile's own (cheap); inverted, only the
    nodes that can be sent expanded (:func:`~stax.analysis.call_tree.inverted_call_tree`'s
    ``min_total`` and ``max_nodes``), so its cost follows the payload, not the stacks."""
    if not inverted:
        return call_tree(profile)
    by_weight = unit != "samples"
    root_total = sum(profile.leaf_weights if by_weight else profile.leaf_counts)
    return inverted_call_tree(profile, min_total=min_value(root_total), by_weight=by_weight,
                              max_nodes=MAX_NODES)


def min_value(root_total: int) -> int:
    """The smallest total a node may have to be sent (:data:`MIN_FRACTION` of the root, at least 1)."""
    return max(1, math.ceil(root_total * MIN_FRACTION))


def values(tree: CallTree, unit: str) -> tuple[list[int], list[int]]:
    """(total, self) per node in the payload's unit: samples (counts) or ns (weights)."""
    if unit == "samples":
        return tree.total_count.tolist(), tree.self_count.tolist()
    return tree.total_weight.tolist(), tree.self_weight.tolist()


def shown_nodes(tree: CallTree, totals: list[int]) -> tuple[list[int], dict[str, int]]:
    """Tree nodes to send, in preorder (children by total, largest first), and what was left out."""
    threshold = min_value(totals[TREE_ROOT])
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
    tree = tree if tree is not None else sent_tree(profile, unit, inverted)
    totals, selfs = values(tree, unit)
    order, dropped = shown_nodes(tree, totals)
    out_index = {node: i for i, node in enumerate(order)}
    names: dict[str, int] = {}
    images: dict[str, int] = {}
    locations = Locations()
    nodes = []
    node_locations = []
    for node in order:
        if node == TREE_ROOT:
            name, image, kind, parent, where = ROOT_NAME, "", USER, -1, 0
        else:
            frame = tree.frame_of(node)
            name, image, kind = frame.name, frame.image, frame_kind(frame)
            parent = out_index[tree.parent[node]]
            where = locations.index(tree.frame[node], frame)
        nodes.append([names.setdefault(name, len(names)), images.setdefault(image, len(images)),
                      parent, totals[node], selfs[node], kind])
        node_locations.append(where)
    payload: dict[str, object] = {"total": totals[TREE_ROOT], "unit": unit, "names": list(names),
                                  "images": list(images), "nodes": nodes, "dropped": dropped,
                                  "locations": locations.texts, "node_locations": node_locations}
    if isinstance(profile, OffCpuProfile):
        payload["reasons"] = node_reasons(profile, tree, out_index)
        payload["non_code"] = {"frames": profile.non_code_frames, "spans": profile.non_code_spans}
    return payload


class Locations:
    """``file:line`` of each sent frame, interned: computed once per display frame, sent once per text."""

    def __init__(self) -> None:
        self.texts: list[str] = [""]
        """Index 0 is "no debug info"."""
        self._by_text: dict[str, int] = {"": 0}
        self._by_frame: dict[Hashable, int] = {}

    def index(self, frame_id: Hashable, frame: DisplayFrame) -> int:
        """The index of ``frame``'s text; ``frame_id`` names the frame (its display frame id)."""
        found = self._by_frame.get(frame_id)
        if found is None:
            text = frame.location or ""
            found = self._by_text.get(text)
            if found is None:
                found = self._by_text[text] = len(self.texts)
                self.texts.append(text)
            self._by_frame[frame_id] = found
        return found


def node_reasons(profile: OffCpuProfile, tree: CallTree,
                 out_index: dict[int, int]) -> dict[str, dict[str, int]]:
    """Per sent node: off-CPU ns by reason, its whole subtree's (the colour of a frame)."""
    split = node_reason_weights(tree, profile)
    return {str(index): dict(split[node]) for node, index in sorted(out_index.items(), key=lambda kv: kv[1])
            if split[node]}
