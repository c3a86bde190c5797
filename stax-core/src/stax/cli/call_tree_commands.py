"""``stax callers FUNC`` and ``stax callees FUNC``: the call tree around one function.

perf report users reach for its caller graph (``perf report -G``), hotspot users for the
Caller/Callee tab; these two commands are that view of a recording: the function at the
top, then who called it (``callers``) or what it called (``callees``), each frame with its
samples.  The input is a :class:`stax.analysis.focused_tree.FocusedCallTree`
(``ViewKind.CALL_TREE``), drawn by the renderer named ``tree``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from stax.cli.view_commands import DEFAULT_RECORDING, Frames, Selection
from stax.cli.view_inputs import load_focused_tree
from stax.contracts import RenderOptions
from stax.views import ViewKind

DEFAULT_MIN_PERCENT = 0.5


@Parameter(name="*")
@dataclass
class TreeOptions:
    """How much of the tree to show, and how."""

    depth: Annotated[int, Parameter(name=["-d", "--depth"])] = -1
    """How many levels below the function to show (-1 for all)."""
    min_percent: Annotated[float, Parameter(name=["--min-percent"])] = DEFAULT_MIN_PERCENT
    """Sum the branches with less than this share of the function's samples into one line."""
    json_output: Annotated[bool, Parameter(name="--json", negative="")] = False
    """Print the whole tree as JSON."""


def callers(
    recording: Path = DEFAULT_RECORDING,
    function: str = "",
    /,
    *,
    tree: TreeOptions | None = None,
    selection: Selection | None = None,
    frames: Frames | None = None,
) -> int:
    """Show who called a function: the function, its callers, their callers, with samples.

    Each line is a frame with the share of all samples that reached the function through
    it (perf report's caller graph, ``-G``). FUNCTION is a name as ``stax top`` shows it,
    the mangled name, or a part of one name. Example: ``stax callers rec.stax hot_loop``.

    Parameters
    ----------
    recording
        The .stax file written by ``stax record``.
    function
        The function, as ``stax top`` names it (or a part of the name that only it has).
    """
    return _draw(recording, function, "callers", tree or TreeOptions(), selection, frames)


def callees(
    recording: Path = DEFAULT_RECORDING,
    function: str = "",
    /,
    *,
    tree: TreeOptions | None = None,
    selection: Selection | None = None,
    frames: Frames | None = None,
) -> int:
    """Show what a function called: the function, its callees, theirs, with samples and self.

    Each line is a frame with the share of all samples spent in it below the function,
    and the samples that ended in it (self); the function's own line has its total.
    FUNCTION is a name as ``stax top`` shows it, the mangled name, or a part of one name.
    Example: ``stax callees rec.stax main -d 2``.

    Parameters
    ----------
    recording
        The .stax file written by ``stax record``.
    function
        The function whose callees to show.
    """
    return _draw(recording, function, "callees", tree or TreeOptions(), selection, frames)


def _draw(recording: Path, function: str, direction: str, tree: TreeOptions,
          selection: Selection | None, frames: Frames | None) -> int:
    from stax.errors import UsageError
    from stax.plugin_manager import get_plugins

    if not function:
        raise UsageError(f"Name the function: `stax {direction} {recording} FUNCTION` (`stax top"
                         f" {recording}` lists them).")
    view = load_focused_tree(recording, function, direction, selection or Selection(),
                             (frames or Frames()).style(), announce=not tree.json_output)
    options = RenderOptions(format="json" if tree.json_output else "text", limit=tree.depth,
                            extra={"min_percent": tree.min_percent})
    get_plugins().renderer("tree", ViewKind.CALL_TREE).render(view, options, sys.stdout)
    sys.stdout.flush()
    return 0
