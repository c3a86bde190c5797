"""The views of a session, run on its data thread: one function per ``/api/*`` endpoint.

Each takes the parsed :class:`~stax_web.query.ViewQuery` and returns the JSON-ready
payload.  What several views share is built once per selection and kept in the
session's cache: the profile of a mode and selection (SQL ``GROUP BY`` in the analysis
layer), the transformed profile, its call trees.
"""

from __future__ import annotations

import attrs

from stax.analysis.call_tree import TREE_ROOT, CallTree
from stax.analysis.profile import Profile
from stax.recording.reader import Recording
from stax_web import cli_views, diff_view, flame_view, meta_view, timeline_view, top_view, tree_transforms
from stax_web.base_selection import base_selection
from stax_web.cli_views import NoBase, NoSuchFunction
from stax_web.profiles import load_profile
from stax_web.query import ViewQuery
from stax_web.session import Session
from stax_web.tree_transforms import transform

DEFAULT_BUCKETS = 1000
"""Timeline buckets when the page does not say (``/api/timeline?buckets=``)."""


def profile(session: Session, query: ViewQuery, rec: Recording | None = None) -> Profile:
    """The transformed profile of ``query`` over ``rec`` (the shown recording by default)."""
    rec = rec if rec is not None else session.current
    origin = session.origin[0] if rec is session.current else session.base_origin[0]
    flt = query.sample_filter(origin)
    builder = session.builder(rec, off_cpu=query.mode != "cpu")
    raw = session.cached(("profile", id(rec), query.selection),
                         lambda: load_profile(rec, query.mode, flt, builder))
    if not query.transformed:
        return raw
    return session.cached(("transformed", id(rec), query.selection, query.transforms),
                          lambda: transform(raw, query))


def tree(session: Session, query: ViewQuery, inverted: bool, rec: Recording | None = None) -> CallTree:
    prof = profile(session, query, rec)
    key = ("tree", id(rec), query.selection, query.transforms, inverted)
    return session.cached(key, lambda: flame_view.tree_of(prof, inverted))


def flame(session: Session, query: ViewQuery) -> dict:
    def build() -> dict:
        prof = profile(session, query)
        # root-first: the cached tree /api/top shares; inverted: only what can be sent is built
        shared = None if query.invert else tree(session, query, False)
        return flame_view.flame_payload(prof, query.unit, query.invert, shared)
    return session.cached(("flame", query.selection, query.transforms, query.invert), build, payload=True)


def meta(session: Session) -> dict:
    return session.cached(("meta",), lambda: meta_view.meta(session.current, session.origin,
                                                            session.base is not None), payload=True)


def warm(session: Session) -> None:
    """Build what the page's first paint needs (meta, the whole recording's flame graph) while
    the browser starts, so that paint does not wait for the aggregation; the rest is built
    when asked, so a request never queues behind a view nobody asked for."""
    meta(session)
    flame(session, ViewQuery())


def top_rows(session: Session, query: ViewQuery, rec: Recording | None = None) -> tuple[list[dict], int]:
    """Every function's ``/api/top`` row (unsorted) and the total they are shares of."""
    rec = rec if rec is not None else session.current
    prof = profile(session, query, rec)
    root_first = tree(session, query, False, rec)
    rows = session.cached(("top", id(rec), query.selection, query.transforms),
                          lambda: top_view.top_rows(prof, root_first, query.unit), payload=True)
    return rows, flame_view.values(root_first, query.unit)[0][TREE_ROOT]


def top(session: Session, query: ViewQuery, sort: str, limit: int, text: str) -> dict:
    rows, total = top_rows(session, query)
    lines = session.cached(("lines",), lambda: top_view.function_lines(session.current), payload=True)
    return top_view.top_payload(rows, total, query.unit, sort, limit, text, lines)


def sandwich(session: Session, query: ViewQuery, function: str) -> dict:
    """One function's callers (inverted, the function on top) and callees (rooted at it)."""
    rows, _ = top_rows(session, query)
    mine = [r for r in rows if r["function"] == function]
    if not mine:
        raise NoSuchFunction(f"No function named {function!r} has time in this selection;"
                             " pick one from the top table.")
    prof = profile(session, query)
    callers = session.cached(("callers", query.selection, query.transforms, function),
                             lambda: tree_transforms.up_to(prof, function))
    callees = profile(session, attrs.evolve(query, focus=(*query.focus, function)))
    return {"function": function, "self": sum(r["self"] for r in mine),
            "total": sum(r["total"] for r in mine),
            "callers": flame_view.flame_payload(callers, query.unit, True),
            "callees": flame_view.flame_payload(callees, query.unit, False)}


def _base(session: Session) -> Recording:
    if session.base is None:
        raise NoBase("This server has no base recording; start it with"
                     " `stax serve REC --base OLD.stax` to compare two recordings.")
    return session.base


def diff(session: Session, query: ViewQuery) -> dict:
    base = _base(session)
    current = tree(session, query, query.invert)
    side = base_selection(query, session.current, base)
    base_tree = (tree(session, side.query, query.invert, base) if side.query is not None
                 else CallTree([], query.invert))
    return {**diff_view.diff_payload(current, base_tree, query.unit), "base_notes": list(side.notes)}


def diff_top(session: Session, query: ViewQuery, limit: int, text: str) -> dict:
    base = _base(session)
    rows, total = top_rows(session, query)
    side = base_selection(query, session.current, base)
    base_rows, base_total = top_rows(session, side.query, base) if side.query is not None else ([], 0)
    return {**diff_view.diff_top(rows, base_rows, total, base_total, query.unit, limit, text),
            "base_notes": list(side.notes)}


def timeline(session: Session, query: ViewQuery, buckets: int) -> dict:
    return session.cached(("timeline", query.selection, buckets),
                          lambda: timeline_view.timeline(session.current, session.origin, query, buckets),
                          payload=True)


def threads(session: Session, query: ViewQuery, limit: int) -> object:
    return cli_views.threads(session.current.path, query.sample_filter(session.origin[0]), limit)


def wakers(session: Session, query: ViewQuery, limit: int, max_wakers: int) -> object:
    return cli_views.wakers(session.current.path, query.sample_filter(session.origin[0]), limit, max_wakers)


def annotate(session: Session, query: ViewQuery, function: str, image: str | None) -> object:
    return session.cached(("annotate", query.selection, function, image), lambda: cli_views.annotate(
        session.current, query.sample_filter(session.origin[0]), query.mode != "cpu", function, image),
        payload=True)
