"""``stax callers`` / ``stax callees``: one function's call tree, as indented text or JSON.

Like perf report's caller graph: each line is a frame with the share of all samples that
passed through it there, its sample count and, for callees, the samples that ended in it
(self); the function itself is the first line.  Branches with less than ``min_percent``
of the function's samples are summed into one ``[N more]`` line so a tree stays readable.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from stax.text_safety import printable
from stax.views import ViewKind
from stax_render.count_text import count_text
from stax_render.json_output import write_json

if TYPE_CHECKING:
    from stax.analysis.focused_tree import FocusedCallTree, FocusNode
    from stax.contracts import RenderOptions

DEFAULT_MIN_PERCENT = 0.5
"""Branches under this share of the function's samples are summed (perf's --percent-limit)."""
INDENT = "  "


class CallTreeRenderer:
    """The ``stax callers`` / ``stax callees`` tree; ``options.format == "json"`` selects JSON."""

    name = "tree"
    view = ViewKind.CALL_TREE
    formats = ("text", "json")
    description = "One function's callers or callees as a tree with samples per frame."

    def render(self, tree: FocusedCallTree, options: RenderOptions, out: IO[str]) -> None:
        min_percent = float(options.extra.get("min_percent", DEFAULT_MIN_PERCENT))
        depth = options.limit if options.limit is not None and options.limit >= 0 else None
        if options.format == "json":
            write_json(as_json(tree), out)
        else:
            write_text(tree, out, min_percent, depth)


def _percent(count: int, total: int) -> float:
    return 100.0 * count / total if total else 0.0


def write_text(tree: FocusedCallTree, out: IO[str], min_percent: float, depth: int | None) -> None:
    root = tree.root
    out.write(f"# {printable(tree.source)}: {tree.direction} of {printable(tree.function)}\n")
    out.write(f"# {count_text(root.count, 'sample')} with it on the stack,"
              f" {_percent(root.count, tree.sample_count):.2f}% of {count_text(tree.sample_count, 'sample')}")
    if tree.direction == "callees":
        out.write(f"; {root.self_count:,} in its own code")
    out.write("\n# total%: of all samples; samples: through this frame here")
    out.write("; self: ended in it\n\n" if tree.direction == "callees" else "\n\n")
    header = f"{'total%':>7}  {'samples':>8}  " + (f"{'self':>8}  " if tree.direction == "callees" else "")
    out.write(header + ("callee" if tree.direction == "callees" else "caller") + "\n")
    floor = root.count * min_percent / 100.0
    _write_node(tree, root, 0, out, floor, depth)


def _write_node(tree: FocusedCallTree, node: FocusNode, level: int, out: IO[str], floor: float,
                depth: int | None) -> None:
    mark = "[k] " if node.frame.is_kernel else "[.] "
    self_cell = f"{node.self_count:>8,}  " if tree.direction == "callees" else ""
    out.write(f"{_percent(node.count, tree.sample_count):>6.2f}%  {node.count:>8,}  {self_cell}"
              f"{INDENT * level}{mark}{printable(node.frame.label)}\n")
    if depth is not None and level >= depth:
        return
    hidden, hidden_count = 0, 0
    for child in node.sorted_children():
        if child.count < floor:
            hidden += 1
            hidden_count += child.count
            continue
        _write_node(tree, child, level + 1, out, floor, depth)
    if hidden:
        blank = " " * 10 if tree.direction == "callees" else ""
        out.write(f"{_percent(hidden_count, tree.sample_count):>6.2f}%  {hidden_count:>8,}  {blank}"
                  f"{INDENT * (level + 1)}[{hidden} more, each under the --min-percent]\n")


def _node_json(node: FocusNode) -> dict[str, object]:
    return {"function": node.frame.name, "image": node.frame.image, "is_kernel": node.frame.is_kernel,
            "is_inline": node.frame.is_inline, "file": node.frame.file, "line": node.frame.line,
            "samples": node.count, "weight_ns": node.weight, "self": node.self_count,
            "children": [_node_json(child) for child in node.sorted_children()]}


def as_json(tree: FocusedCallTree) -> dict[str, object]:
    return {"recording": tree.source, "direction": tree.direction, "function": tree.function,
            "samples": tree.sample_count, "incomplete": tree.incomplete, "tree": _node_json(tree.root)}
