"""Call trees with self and total samples per node, root first or callee first (inverted).

A node is a path of display frames; ``total`` counts the samples whose stack
passes through that path, ``self`` those whose stack ends there.  The inverted
tree merges stacks leaf first (the function on CPU at the top level, its callers
below), which is what an "inverted" or "bottom-up" view shows.
"""

from __future__ import annotations

import heapq
from array import array

from stax.analysis.profile import ROOT, DisplayFrame, Profile

TREE_ROOT = 0
"""Node 0 of every :class:`CallTree` is a synthetic root holding all samples."""


class CallTree:
    """Arrays indexed by node id; node 0 is the root, parents have smaller ids than children."""

    def __init__(self, frames: list[DisplayFrame], inverted: bool) -> None:
        self.frames = frames
        self.inverted = inverted
        self.parent = array("q", [-1])
        self.frame = array("q", [-1])
        self.depth = array("q", [0])
        self.self_count = array("q", [0])
        self.self_weight = array("q", [0])
        self.total_count = array("q", [0])
        self.total_weight = array("q", [0])
        self._index: dict[tuple[int, int], int] = {}
        self._children: list[list[int]] | None = None

    def __len__(self) -> int:
        return len(self.frame)

    def _child(self, parent: int, frame: int) -> int:
        key = (parent, frame)
        node = self._index.get(key)
        if node is None:
            node = len(self.frame)
            self.parent.append(parent)
            self.frame.append(frame)
            self.depth.append(self.depth[parent] + 1)
            for column in (self.self_count, self.self_weight, self.total_count, self.total_weight):
                column.append(0)
            self._index[key] = node
        return node

    def child_of(self, parent: int, frame: int) -> int | None:
        """The child of ``parent`` showing ``frame`` in a tree built node by node (inverted), None
        when there is none (a node :func:`inverted_call_tree` did not expand has no children);
        :func:`call_tree` trees keep no such index (their node ``n + 1`` is the profile's node ``n``).
        """
        return self._index.get((parent, frame))

    def children(self, node: int) -> list[int]:
        """Children of ``node`` in creation order."""
        return self.children_lists()[node]

    def children_lists(self) -> list[list[int]]:
        """Children of every node (index = node id), built once on first use."""
        if self._children is None:
            kids: list[list[int]] = [[] for _ in range(len(self.frame))]
            for child, parent in enumerate(self.parent.tolist()):
                if child:
                    kids[parent].append(child)
            self._children = kids
        return self._children

    def frame_of(self, node: int) -> DisplayFrame:
        return self.frames[self.frame[node]]

    def path(self, node: int) -> list[int]:
        """Display frame ids from the tree's top level down to ``node``."""
        out: list[int] = []
        while node != TREE_ROOT:
            out.append(self.frame[node])
            node = self.parent[node]
        out.reverse()
        return out

    @property
    def sample_count(self) -> int:
        return self.total_count[TREE_ROOT]


def call_tree(profile: Profile) -> CallTree:
    """The root-first call tree; it is the profile's own stack tree plus totals."""
    tree = CallTree(profile.frames, inverted=False)
    # Profile node n becomes tree node n + 1 (the profile's ROOT becomes TREE_ROOT).
    node_count = profile.node_count
    tree.parent = array("q", [-1])
    tree.parent.extend(p + 1 for p in profile.node_parents)
    tree.frame = array("q", [-1])
    tree.frame.extend(profile.node_frames)
    depth = array("q", bytes(8 * (node_count + 1)))
    parent = tree.parent
    for node in range(1, node_count + 1):
        depth[node] = depth[parent[node]] + 1
    tree.depth = depth
    zeros = bytes(8 * (node_count + 1))
    self_count, self_weight = array("q", zeros), array("q", zeros)
    for node, count, weight in zip(profile.leaf_nodes, profile.leaf_counts, profile.leaf_weights,
                                   strict=True):
        self_count[node + 1] += count
        self_weight[node + 1] += weight
    total_count, total_weight = array("q", self_count), array("q", self_weight)
    for node in range(node_count, 0, -1):  # children before parents
        up = parent[node]
        total_count[up] += total_count[node]
        total_weight[up] += total_weight[node]
    tree.self_count, tree.self_weight = self_count, self_weight
    tree.total_count, tree.total_weight = total_count, total_weight
    return tree


def inverted_call_tree(profile: Profile, min_total: int = 0, by_weight: bool = False,
                       max_nodes: int | None = None) -> CallTree:
    """The callee-first tree: each stack merged from its leaf towards its root.

    Built top-down, one level at a time: a node's children are found by grouping the
    stacks through it by their next frame.  Only nodes whose total (sample count, or the
    weight with ``by_weight``) is at least ``min_total`` are expanded, largest first, and
    at most ``max_nodes`` of them (counting the root; nodes tied with the last one are
    expanded too); a node not expanded is in the tree with its total and self but without
    children.  So a view that sends only the nodes above a share of the root pays for
    those, not for the whole tree (a bottom-up tree of many distinct stacks is mostly
    small nodes); the defaults build the whole tree.
    """
    tree = CallTree(profile.frames, inverted=True)
    parents, frames = profile.node_parents, profile.node_frames
    total_count, total_weight = tree.total_count, tree.total_weight
    self_count, self_weight = tree.self_count, tree.self_weight
    totals = total_weight if by_weight else total_count
    # the stacks through a node not yet expanded: (profile node of its next frame, count, weight)
    pending: dict[int, list[tuple[int, int, int]]] = {
        TREE_ROOT: list(zip(profile.leaf_nodes, profile.leaf_counts, profile.leaf_weights, strict=True))}
    total_count[TREE_ROOT] = sum(profile.leaf_counts)
    total_weight[TREE_ROOT] = sum(profile.leaf_weights)
    heap = [(-totals[TREE_ROOT], TREE_ROOT)]
    expanded, last = 0, 0
    while heap:
        value, node = heapq.heappop(heap)
        if max_nodes is not None and expanded >= max_nodes and -value < last:
            break
        expanded, last = expanded + 1, -value
        children: dict[int, list[tuple[int, int, int]]] = {}
        for walk, count, weight in pending.pop(node):
            child = tree._child(node, frames[walk])
            total_count[child] += count
            total_weight[child] += weight
            up = parents[walk]
            if up == ROOT:
                self_count[child] += count
                self_weight[child] += weight
            else:
                children.setdefault(child, []).append((up, count, weight))
        for child, through in children.items():
            if totals[child] >= min_total:
                pending[child] = through
                heapq.heappush(heap, (-totals[child], child))
    return tree
