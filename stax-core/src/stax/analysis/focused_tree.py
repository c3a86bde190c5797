"""The call tree around one function: who called it (callers) or what it called (callees).

What perf report's caller graph (``-G``) and hotspot's Caller/Callee view show for one
function.  ``callees`` merges, for every sample whose stack holds the function, the part of
the stack from its outermost call down to the leaf: the function at the root, then what it
called.  ``callers`` merges the part from its innermost call up to the thread's start,
reversed: the function at the root, then its callers, then theirs.  Recursion counts a
sample once either way, so the root holds exactly the function's total samples.
"""

from __future__ import annotations

from typing import Literal

import attrs

from stax.analysis.function_match import match_function_name
from stax.analysis.profile import ROOT, DisplayFrame, Profile
from stax.errors import StaxError

Direction = Literal["callers", "callees"]


@attrs.define(slots=True, eq=False)
class FocusNode:
    """One frame of the tree with the samples (``count``) and CPU time (``weight``) through it;
    ``self_count`` are samples that ended here (callees only: a caller is never a leaf)."""

    frame: DisplayFrame
    count: int = 0
    weight: int = 0
    self_count: int = 0
    children: dict[int, FocusNode] = attrs.field(factory=dict)
    """Child per display frame id, in the order first seen; renderers sort by count."""

    def sorted_children(self) -> list[FocusNode]:
        return sorted(self.children.values(), key=lambda n: (-n.count, n.frame.name))


@attrs.frozen(slots=True)
class FocusedCallTree:
    """What ``stax callers`` / ``stax callees`` draw (``ViewKind.CALL_TREE``)."""

    source: str
    function: str
    """The function's name as shown (every frame of that name is merged at the root)."""
    direction: Direction
    root: FocusNode
    sample_count: int
    """Every selected sample: the 100% of the percentages."""
    incomplete: str | None = None
    """The "incomplete recording" sentence when ``stax record`` did not finish the file."""


def match_function(profile: Profile, wanted: str, recording: str) -> str:
    """The shown name ``wanted`` means (:func:`~stax.analysis.function_match.match_function_name`):
    itself, the demangled form of a raw name, or the one function whose name contains it.  None
    or several is one sentence."""
    found = match_function_name((frame.name for frame in profile.frames), wanted)
    if found is None:
        raise StaxError(f"No function named {wanted!r} has samples in {recording}; `stax top {recording}`"
                        " lists the functions that do.")
    return found


def focused_tree(profile: Profile, function: str, direction: Direction) -> FocusedCallTree:
    """The callers or callees tree of the function shown as ``function`` (see the module doc)."""
    targets = {i for i, frame in enumerate(profile.frames) if frame.name == function}
    first = profile.frames[min(targets)] if targets else DisplayFrame(function, "")
    root = FocusNode(attrs.evolve(first, is_inline=False) if targets else first)
    parents, frames = profile.node_parents, profile.node_frames
    path_of: dict[int, list[int]] = {}
    for leaf, count, weight in zip(profile.leaf_nodes, profile.leaf_counts, profile.leaf_weights,
                                   strict=True):
        path = path_of.get(leaf)
        if path is None:
            path = []
            walk = leaf
            while walk != ROOT:
                path.append(frames[walk])
                walk = parents[walk]
            path.reverse()  # outermost first
            path_of[leaf] = path
        hits = [i for i, f in enumerate(path) if f in targets]
        if not hits:
            continue
        part = path[hits[0] + 1:] if direction == "callees" else list(reversed(path[:hits[-1]]))
        node = root
        node.count += count
        node.weight += weight
        for frame in part:
            child = node.children.get(frame)
            if child is None:
                child = node.children[frame] = FocusNode(profile.frames[frame])
            child.count += count
            child.weight += weight
            node = child
        if direction == "callees":
            node.self_count += count
    return FocusedCallTree(profile.source, function, direction, root, profile.sample_count,
                           profile.incomplete)
