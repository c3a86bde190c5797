"""Self and total samples per function, the numbers behind ``stax top``.

``self`` counts samples where the function was on CPU (the leaf); ``total``
counts samples where it was anywhere on the stack, once per sample even when it
recurses, so no total exceeds 100%.
"""

from __future__ import annotations

import enum

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
    return _group_totals(profile, profile.frames, list(range(len(profile.frames))), tree)


def _group_totals(profile: Profile, groups: list[DisplayFrame], group_of: list[int],
                  tree: CallTree | None = None) -> list[FunctionTotal]:
    """Self and total samples per group of frames (``group_of[frame id]``; a group is shown as
    ``groups[group]``): self where a frame of the group is the leaf, total once per sample
    whose stack holds one anywhere."""
    tree = tree if tree is not None else call_tree(profile)
    group_count = len(groups)
    frame_of = [group_of[f] if f >= 0 else -1 for f in tree.frame.tolist()]
    node_self, node_self_weight = tree.self_count.tolist(), tree.self_weight.tolist()
    node_total, node_total_weight = tree.total_count.tolist(), tree.total_weight.tolist()
    self_count = [0] * group_count
    self_weight = [0] * group_count
    for node in range(1, len(frame_of)):
        if node_self[node]:
            frame = frame_of[node]
            self_count[frame] += node_self[node]
            self_weight[frame] += node_self_weight[node]
    # A node adds to its group's total only when no ancestor is in the same group:
    # the ancestor's total already holds these samples (recursion).  Depth-first, with
    # ~node pushed to mark leaving a node.
    total_count = [0] * group_count
    total_weight = [0] * group_count
    on_path = [0] * group_count
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
        FunctionTotal(groups[f], self_count[f], self_weight[f], total_count[f],
                      total_weight[f], self_count[f] * scale, total_count[f] * scale)
        for f in range(group_count) if total_count[f]
    ]
    rows.sort(key=lambda r: (-r.self_count, -r.total_count, r.frame.name))
    return rows


class Grouping(enum.StrEnum):
    """What a row of ``stax top`` is (``--by``)."""

    FUNCTION = "function"
    IMAGE = "image"
    """The executable or library (perf report's ``dso``)."""
    FILE = "file"
    """The source file debug info names (``[no file]`` without debug info)."""
    COMM = "comm"
    """The thread's name: threads of one name are one row."""
    THREAD = "thread"
    """Each thread (``name-tid``)."""


class SortKey(enum.StrEnum):
    """The order of ``stax top``'s rows (``--sort``)."""

    SELF = "self"
    """CPU time where the row's own code was running (perf report's overhead; the default)."""
    TOTAL = "total"
    """CPU time where the row was anywhere on the stack (perf report --children's order)."""
    SAMPLES = "samples"
    """Samples where the row's own code was running (perf report -n's count, before weights)."""


NO_FILE = "[no file]"
"""The file row of code whose debug info names no source file (or that has none)."""


def grouped_totals(profile: Profile, by: Grouping = Grouping.FUNCTION,
                   sort: SortKey = SortKey.SELF) -> list[FunctionTotal]:
    """The rows of ``stax top --by BY --sort SORT``: each a :class:`FunctionTotal` whose
    ``frame`` names the group (an image, a file, a thread as ``name-tid``)."""
    if by is Grouping.FUNCTION:
        rows = function_totals(profile)
    elif by in (Grouping.IMAGE, Grouping.FILE):
        index: dict[tuple[str, bool], int] = {}
        groups: list[DisplayFrame] = []
        group_of: list[int] = []
        for frame in profile.frames:
            name = frame.image if by is Grouping.IMAGE else (frame.file or NO_FILE)
            key = (name, frame.is_kernel if by is Grouping.IMAGE else False)
            if key not in index:
                index[key] = len(groups)
                groups.append(DisplayFrame(name, frame.image if by is Grouping.IMAGE else "",
                                           key[1], resolved=bool(name)))
            group_of.append(index[key])
        rows = _group_totals(profile, groups, group_of)
    else:
        rows = _thread_rows(profile, by)
    return sort_totals(rows, sort)


def _thread_rows(profile: Profile, by: Grouping) -> list[FunctionTotal]:
    from stax.analysis.thread_totals import thread_totals

    sums: dict[str, list[int]] = {}
    processes: dict[str, str] = {}
    for t in thread_totals(profile):
        key = t.name if by is Grouping.COMM else f"{t.name}-{t.tid}"
        totals = sums.setdefault(key, [0, 0])
        totals[0] += t.count
        totals[1] += t.weight
        processes.setdefault(key, t.process_name)
    samples = profile.sample_count
    scale = 100.0 / samples if samples else 0.0
    return [FunctionTotal(DisplayFrame(key, processes[key]), count, weight, count, weight,
                          count * scale, count * scale) for key, (count, weight) in sums.items()]


def sort_totals(rows: list[FunctionTotal], sort: SortKey) -> list[FunctionTotal]:
    """``rows`` in ``sort``'s order, ties by the other columns, then by name."""
    if sort is SortKey.SELF:
        key = lambda r: (-r.self_weight, -r.self_count, -r.total_count, r.frame.name)  # noqa: E731
    elif sort is SortKey.TOTAL:
        key = lambda r: (-r.total_weight, -r.total_count, -r.self_count, r.frame.name)  # noqa: E731
    else:
        key = lambda r: (-r.self_count, -r.total_count, r.frame.name)  # noqa: E731
    return sorted(rows, key=key)
