"""``stax callers FUNC`` and ``stax callees FUNC``: the call tree around one function.

perf report users reach for its caller graph (``perf report -G``), hotspot users for the
Caller/Callee tab; these two commands are that view of a recording: the function at the
top, then who called it (``callers``) or what it called (``callees``), each frame with its
samples.  The input is a :class:`stax.analysis.focused_tree.FocusedCallTree`
(``ViewKind.CALL_TREE``), drawn by the renderer named ``tree``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from stax.cli.view_commands import DEFAULT_RECORDING, Frames, Selection
from stax.cli.view_inputs import load_focused_tree
from stax.contracts import RenderOptions
from stax.views import ViewKind

DEFAULT_MIN_PERCENT = 0.5


def callers(
    recording: Path = DEFAULT_RECORDING,
    function: str = "",
    /,
    *,
    depth: Annotated[int, Parameter(name=["-d", "--depth"])] = -1,
    min_percent: Annotated[float, Parameter(name=["--min-percent"])] = DEFAULT_MIN_PERCENT,
    selection: Selection | None = None,
    frames: Frames | None = None,
    json_output: Annotated[bool, Parameter(name="--json", negative="")] = False,
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
    depth
        How many levels of callers to show (-1 for all).
    min_percent
        Sum the branches with less than this share of the function's samples into one line.
    json_output
        Print the whole tree as JSON.
    """
    return _draw(recording, function, "callers", depth, min_percent, selection, frames, json_output)


def callees(
    recording: Path = DEFAULT_RECORDING,
    function: str = "",
    /,
    *,
    depth: Annotated[int, Parameter(name=["-d", "--depth"])] = -1,
    min_percent: Annotated[float, Parameter(name=["--min-percent"])] = DEFAULT_MIN_PERCENT,
    selection: Selection | None = None,
    frames: Frames | None = None,
    json_output: Annotated[bool, Parameter(name="--json", negative="")] = False,
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
        The function, as ``stax top`` names it (or a part of the name that only it has).
    depth
        How many levels of callees to show (-1 for all).
    min_percent
        Sum the branches with less than this share of the function's samples into one line.
    json_output
        Print the whole tree as JSON.
    """
    return _draw(recording, function, "callees", depth, min_percent, selection, frames, json_output)


def _draw(recording: Path, function: str, direction: str, depth: int, min_percent: float,
          selection: Selection | None, frames: Frames | None, json_output: bool) -> int:
    from stax.errors import UsageError
    from stax.plugin_manager import get_plugins

    if not function:
        raise UsageError(f"Name the function: `stax {direction} {recording} FUNCTION` (`stax top"
                         f" {recording}` lists them).")
    tree = load_focused_tree(recording, function, direction, selection or Selection(),
                             (frames or Frames()).style(), announce=not json_output)
    options = RenderOptions(format="json" if json_output else "text", limit=depth,
                            extra={"min_percent": min_percent})
    get_plugins().renderer("tree", ViewKind.CALL_TREE).render(tree, options, sys.stdout)
    sys.stdout.flush()
    return 0
