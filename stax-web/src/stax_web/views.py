"""The views of a session, run on its data thread: one function per ``/api/*`` endpoint.

Each takes the parsed :class:`~stax_web.query.ViewQuery` and returns the JSON-ready
payload.  What several views share is built once per selection and kept in the
session's cache: the profile of a mode and selection (SQL ``GROUP BY`` in the analysis
layer), the transformed profile, its call trees.
"""

from __future__ import annotations

from stax.analysis.call_tree import CallTree
from stax.analysis.profile import Profile
from stax.recording.reader import Recording
from stax_web import cli_views, flame_view, timeline_view, top_view
from stax_web.profiles import load_profile
from stax_web.query import ViewQuery
from stax_web.session import Session
from stax_web.tree_transforms import transform


def profile(session: Session, query: ViewQuery, rec: Recording | None = None) -> Profile:
    """The transformed profile of ``query`` over ``rec`` (the shown recording by default)."""
    rec = rec if rec is not None else session.current
    origin = session.origin[0] if rec is session.current else session.base_origin[0]
    raw = session.cached(("profile", id(rec), query.selection),
                         lambda: load_profile(rec, query.mode, query.sample_filter(origin)))
    if not query.transformed:
        return raw
    return session.cached(("transformed", id(rec), query.selection, query.transforms),
                          lambda: transform(raw, query))


def tree(session: Session, query: ViewQuery, inverted: bool, rec: Recording | None = None) -> CallTree:
    prof = profile(session, query, rec)
    key = ("tree", id(rec), query.selection, query.transforms, inverted)
    return session.cached(key, lambda: flame_view.tree_of(prof, inverted))


def flame(session: Session, query: ViewQuery) -> dict:
    prof = profile(session, query)
    return flame_view.flame_payload(prof, query.unit, query.invert, tree(session, query, query.invert))


def top(session: Session, query: ViewQuery, sort: str, limit: int, text: str) -> dict:
    prof = profile(session, query)
    root_first = tree(session, query, False)
    rows = session.cached(("top", query.selection, query.transforms),
                          lambda: top_view.top_rows(prof, root_first, query.unit))
    lines = session.cached(("lines", id(session.current)), lambda: top_view.function_lines(session.current))
    total = flame_view.values(root_first, query.unit)[0][0]
    return top_view.top_payload(rows, total, query.unit, sort, limit, text, lines)


def timeline(session: Session, query: ViewQuery, buckets: int) -> dict:
    return session.cached(("timeline", query.selection, buckets),
                          lambda: timeline_view.timeline(session.current, session.origin, query, buckets))


def threads(session: Session, query: ViewQuery, limit: int) -> object:
    return cli_views.threads(session.current.path, query.sample_filter(session.origin[0]), limit)


def wakers(session: Session, query: ViewQuery, limit: int, max_wakers: int) -> object:
    return cli_views.wakers(session.current.path, query.sample_filter(session.origin[0]), limit, max_wakers)


def annotate(session: Session, query: ViewQuery, function: str, image: str | None) -> object:
    return session.cached(("annotate", query.selection, function, image), lambda: cli_views.annotate(
        session.current, query.sample_filter(session.origin[0]), query.mode != "cpu", function, image))
