"""The call-tree transforms the Firefox Profiler's users rely on, applied to a profile.

Each transform maps the profile's stack tree (node ``n``: frame ``node_frames[n]``
under ``node_parents[n]``, parents first) onto a new one in one pass over the nodes,
and the leaf entries (where samples or spans end) follow their node.  The result is a
:class:`~stax.analysis.profile.Profile` again, so the analysis layer's
:func:`~stax.analysis.call_tree.call_tree`, ``inverted_call_tree`` and
``function_totals`` work on it unchanged.  In order:

* ``kernel=0``: kernel frames are removed (their time goes to the user frame below).
* ``merge=FUNC``: FUNC's frames are removed; its self time becomes its caller's.
* ``collapse=IMAGE``: consecutive frames of IMAGE become one frame named IMAGE.
* ``focus=FUNC``: only stacks through FUNC are kept, re-rooted at FUNC's outermost
  frame (every call of FUNC merges at the top); repeated, each narrows the last.

:func:`up_to` cuts stacks after a function instead: the callers half of a sandwich view.

A stack whose every frame was removed counts at the root (``all``), so the total
stays the selection's; only ``focus`` takes time out of the view.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable

import attrs

from stax.analysis.off_cpu_profile import OffCpuProfile
from stax.analysis.profile import ROOT, DisplayFrame, Profile
from stax_web.query import ViewQuery

OUTSIDE = -2
"""The new node of a node outside every focused subtree: its samples leave the view."""

Decide = Callable[[int, int], int]


class _Pass:
    """Builds one transformed tree: :meth:`child` interns (parent, frame) nodes."""

    def __init__(self, frames: list[DisplayFrame]) -> None:
        self.frames = frames
        self.frame_ids = {frame: i for i, frame in enumerate(frames)}
        self.parents = array("q")
        self.node_frames = array("q")
        self.index: dict[tuple[int, int], int] = {}

    def frame_id(self, frame: DisplayFrame) -> int:
        index = self.frame_ids.get(frame)
        if index is None:
            index = self.frame_ids[frame] = len(self.frames)
            self.frames.append(frame)
        return index

    def child(self, parent: int, frame: int) -> int:
        key = (parent, frame)
        node = self.index.get(key)
        if node is None:
            node = self.index[key] = len(self.node_frames)
            self.parents.append(parent)
            self.node_frames.append(frame)
        return node


def transform(profile: Profile, query: ViewQuery) -> Profile:
    """``profile`` with ``query``'s transforms applied (itself when there are none)."""
    if not query.transformed:
        return profile
    frames = list(profile.frames)
    if not query.kernel:
        profile = _apply(profile, frames, lambda parent, frame, p: parent
                         if frames[frame].is_kernel else p.child(parent, frame))
    if query.merge:
        merged = frozenset(query.merge)
        profile = _apply(profile, frames, lambda parent, frame, p: parent
                         if frames[frame].name in merged else p.child(parent, frame))
    for image in query.collapse:
        profile = _collapse(profile, frames, image)
    for function in query.focus:
        profile = _apply(profile, frames, _focus(frames, function), top=OUTSIDE)
    return profile


def _collapse(profile: Profile, frames: list[DisplayFrame], image: str) -> Profile:
    def decide(parent: int, frame: int, p: _Pass) -> int:
        shown = frames[frame]
        if shown.image != image:
            return p.child(parent, frame)
        into = p.frame_id(DisplayFrame(image, image, shown.is_kernel, resolved=True, is_jit=shown.is_jit))
        if parent >= 0 and p.node_frames[parent] == into:
            return parent
        return p.child(parent, into)
    return _apply(profile, frames, decide)


def _focus(frames: list[DisplayFrame], function: str) -> Callable[[int, int, _Pass], int]:
    def decide(parent: int, frame: int, p: _Pass) -> int:
        if parent == OUTSIDE:
            return p.child(ROOT, frame) if frames[frame].name == function else OUTSIDE
        return p.child(parent, frame)
    return decide


def up_to(profile: Profile, function: str) -> Profile:
    """Only the stacks through ``function``, each cut after its outermost ``function`` frame
    (its callees' time becomes its own): inverted, this is the callers half of a sandwich."""
    frames = list(profile.frames)
    ends: set[int] = set()

    def decide(parent: int, frame: int, p: _Pass) -> int:
        if parent in ends:
            return parent
        node = p.child(parent, frame)
        if frames[frame].name == function:
            ends.add(node)
        return node
    return _apply(profile, frames, decide, keep=ends.__contains__)


def _apply(profile: Profile, frames: list[DisplayFrame], decide: Callable[[int, int, _Pass], int],
           top: int = ROOT, keep: Callable[[int], bool] | None = None) -> Profile:
    """One pass: node ``n`` becomes ``decide(new parent, frame, pass)``; parents come first.

    ``top`` is what the profile's root maps to (:data:`OUTSIDE` for focus: nothing is
    inside until the focused function appears).  Leaf entries stay where ``keep`` says
    of their new node (default: unless :data:`OUTSIDE`)."""
    p = _Pass(frames)
    new_of = array("q", bytes(8 * len(profile.node_frames)))
    parents = profile.node_parents
    for node, frame in enumerate(profile.node_frames):
        up = parents[node]
        new_of[node] = decide(top if up == ROOT else new_of[up], frame, p)
    kept = keep if keep is not None else OUTSIDE.__ne__
    leaves = [i for i, node in enumerate(profile.leaf_nodes)
              if kept(top if node == ROOT else new_of[node])]
    fields: dict[str, object] = {
        "frames": p.frames, "node_parents": p.parents, "node_frames": p.node_frames,
        "leaf_nodes": array("q", (ROOT if profile.leaf_nodes[i] == ROOT else new_of[profile.leaf_nodes[i]]
                                  for i in leaves)),
        "leaf_counts": array("q", (profile.leaf_counts[i] for i in leaves)),
        "leaf_weights": array("q", (profile.leaf_weights[i] for i in leaves)),
        "thread_stacks": [],  # per-thread rows are not transformed; the views here do not use them
    }
    if isinstance(profile, OffCpuProfile):
        fields["leaf_reasons"] = [profile.leaf_reasons[i] for i in leaves]
    return attrs.evolve(profile, **fields)

