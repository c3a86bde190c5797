"""``/api/threads``, ``/api/wakers`` and ``/api/annotate``: exactly what ``stax threads --json``,
``stax wakers --json`` and ``stax annotate --json`` print.

Each builds its view's input as the CLI command does (``stax.cli.view_inputs`` loaders,
the analysis layer's :class:`~stax.analysis.annotator.Annotator`) and writes it with the
renderer of that view found through the plugin manager, in its ``json`` format, so the
browser and the command line cannot disagree.  The page's selection (threads and time
range) is handed to the loaders as a selection object with the CLI's interface.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import attrs

from stax.contracts import RenderOptions
from stax.errors import StaxError
from stax.recording.reader import Recording, SampleFilter
from stax.views import ViewKind


@attrs.frozen(slots=True)
class WebSelection:
    """The page's selection in the shape of :class:`stax.cli.view_commands.Selection`."""

    filter: SampleFilter

    def to_filter(self) -> SampleFilter:
        return self.filter

    def describe(self) -> str:
        parts = []
        if self.filter.tids:
            parts.append("--tid " + ",".join(map(str, sorted(self.filter.tids))))
        if self.filter.has_time_range():
            parts.append("the selected time range")
        return " and ".join(parts)


class NoSuchFunction(StaxError):
    """A view named a function with nothing in the selection (a 404)."""


class NoBase(StaxError):
    """A diff was asked of a server started without ``--base`` (a 404)."""


def render_json(name: str, view_kind: ViewKind, view: object, limit: int | None) -> object:
    """``view`` as the ``name`` renderer's JSON, parsed back (the CLI's ``--json`` bytes)."""
    from stax.plugin_manager import get_plugins

    out = io.StringIO()
    get_plugins().renderer(name, view_kind).render(view, RenderOptions(format="json", limit=limit), out)
    return json.loads(out.getvalue())


def threads(path: Path, flt: SampleFilter, limit: int) -> object:
    from stax.cli.view_inputs import load_thread_breakdown

    view = load_thread_breakdown(path, WebSelection(flt), limit, announce=False)
    return render_json("threads", ViewKind.THREAD_BREAKDOWN, view, limit)


def wakers(path: Path, flt: SampleFilter, limit: int, max_wakers: int) -> object:
    from stax.cli.view_inputs import load_wakeup_chains

    view = load_wakeup_chains(path, WebSelection(flt), limit, max_wakers, announce=False)
    return render_json("wakers", ViewKind.WAKEUP_CHAINS, view, limit)


def annotate(rec: Recording, flt: SampleFilter, off_cpu: bool, function: str, image: str | None) -> object:
    """``stax annotate REC FUNCTION [--image IMAGE] [--off-cpu] --json`` over the selection."""
    from stax.analysis.annotator import Annotator
    from stax.cli.view_inputs import no_off_cpu_data_message

    if off_cpu and rec.off_cpu_span_count() == 0:
        raise StaxError(no_off_cpu_data_message(rec.path, rec.meta(), rec.capabilities()))
    annotator = Annotator(rec, off_cpu=off_cpu, flt=flt)
    rows = annotator.find(function, None, image)
    if not rows:
        where = f" in image {image!r}" if image else ""
        has = "blocked time" if off_cpu else "samples"
        raise NoSuchFunction(f"No function named {function!r}{where} has {has} in this selection;"
                             " pick one from the top table.")
    return render_json("annotate", ViewKind.ANNOTATION, annotator.annotation(rows), None)
