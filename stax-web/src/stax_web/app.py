"""The ASGI app of ``stax serve``: the page, its static files and the ``/api/*`` JSON views.

Routes are thin: each parses its query (:mod:`stax_web.query`), runs its view on the
session's data thread (:class:`stax_web.session.Session`) and returns JSON.  The
:class:`stax_web.security.Guard` wraps the whole app, so no route is reachable
without the bound Host and the token.  Only two things are ever read from disk: the
recordings the session opened, and files inside the package's own ``static/``
directory (starlette's :class:`StaticFiles` refuses paths leading out of it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from stax.cli.view_inputs import DEFAULT_MAX_WAKERS, DEFAULT_WAKERS_LIMIT
from stax.errors import StaxError, UsageError
from stax_web import top_view, views
from stax_web.cli_views import NoBase, NoSuchFunction
from stax_web.query import QueryError, ViewQuery, int_param, parse_query
from stax_web.security import Guard, allowed_hosts
from stax_web.session import Session

STATIC_DIR = Path(__file__).parent / "static"


class WebError(Exception):
    """A request the server will not answer: ``status`` and one sentence for ``{"error": ...}``."""

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status


def query_of(request: Request) -> ViewQuery:
    """The common parameters of every view (API.md), or a :class:`QueryError`."""
    params = request.query_params
    return parse_query(params, {key: params.getlist(key) for key in ("focus", "merge", "collapse")})


def build_app(session: Session, token: str, host: str, port: int) -> Guard:
    """The guarded app serving ``session`` at ``host:port``."""
    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    def json_view(view: Callable[[Request], object]) -> Callable:
        async def endpoint(request: Request) -> Response:
            try:
                payload = await view(request)
            except (QueryError, UsageError) as exc:  # a parameter, e.g. a part several names share
                return JSONResponse({"error": str(exc)}, status_code=400)
            except WebError as exc:
                return JSONResponse({"error": str(exc)}, status_code=exc.status)
            except (NoSuchFunction, NoBase) as exc:
                return JSONResponse({"error": str(exc)}, status_code=404)
            except StaxError as exc:  # damage found inside a view's query, an empty selection
                return JSONResponse({"error": str(exc)}, status_code=422)
            return JSONResponse(payload)
        return endpoint

    async def meta(request: Request) -> object:
        return await session.call(views.meta, session)

    async def flame(request: Request) -> object:
        return await session.call(views.flame, session, query_of(request))

    async def top(request: Request) -> object:
        params = request.query_params
        sort = params.get("sort", "") or "self"
        if sort not in top_view.SORTS:
            raise QueryError(f"sort={sort!r} is not a column; use self, total or samples.")
        limit = int_param(params, "limit", 100, 1, 100_000)
        return await session.call(views.top, session, query_of(request), sort, limit,
                                  params.get("filter", ""))

    async def timeline(request: Request) -> object:
        buckets = int_param(request.query_params, "buckets", views.DEFAULT_BUCKETS, 1, 20_000)
        return await session.call(views.timeline, session, query_of(request), buckets)

    async def threads(request: Request) -> object:
        limit = int_param(request.query_params, "limit", -1, -1, 1_000_000)
        return await session.call(views.threads, session, query_of(request), limit)

    async def wakers(request: Request) -> object:
        params = request.query_params
        limit = int_param(params, "limit", DEFAULT_WAKERS_LIMIT, -1, 1_000_000)
        max_wakers = int_param(params, "wakers", DEFAULT_MAX_WAKERS, -1, 1_000_000)
        return await session.call(views.wakers, session, query_of(request), limit, max_wakers)

    async def annotate(request: Request) -> object:
        params = request.query_params
        function = params.get("function", "")
        if not function:
            raise QueryError("Give the function to annotate, e.g. /api/annotate?function=main.")
        return await session.call(views.annotate, session, query_of(request), function,
                                  params.get("image") or None)

    async def sandwich(request: Request) -> object:
        function = request.query_params.get("function", "")
        if not function:
            raise QueryError("Give the function, e.g. /api/sandwich?function=main.")
        return await session.call(views.sandwich, session, query_of(request), function)

    async def diff(request: Request) -> object:
        return await session.call(views.diff, session, query_of(request))

    async def diff_top(request: Request) -> object:
        params = request.query_params
        limit = int_param(params, "limit", 100, 1, 100_000)
        return await session.call(views.diff_top, session, query_of(request), limit, params.get("filter", ""))

    routes = [
        Route("/", index),
        Route("/index.html", index),
        Route("/api/meta", json_view(meta)),
        Route("/api/flame", json_view(flame)),
        Route("/api/top", json_view(top)),
        Route("/api/timeline", json_view(timeline)),
        Route("/api/threads", json_view(threads)),
        Route("/api/wakers", json_view(wakers)),
        Route("/api/annotate", json_view(annotate)),
        Route("/api/sandwich", json_view(sandwich)),
        Route("/api/diff", json_view(diff)),
        Route("/api/diff/top", json_view(diff_top)),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(routes=routes)
    return Guard(app, token, allowed_hosts(host, port))
