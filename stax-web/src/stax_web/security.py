"""Who may talk to ``stax serve``: the bound Host only, and only with the session's token.

A recording names every function and thread of the profiled program, so the server
treats each request as hostile until it proves otherwise:

* **DNS rebinding**: a page on ``evil.example`` whose name is re-pointed at 127.0.0.1
  reaches the server with ``Host: evil.example:PORT``; only the address the server was
  bound to (and, for a loopback bind, its ``localhost`` / ``127.0.0.1`` / ``[::1]``
  spellings) with the bound port is accepted, anything else is 403.
* **Other local users and pages**: every request carries the random token, as
  ``?token=`` on the first load (the URL ``stax serve`` prints) and then as the
  ``stax_token`` cookie (HttpOnly, SameSite=Strict) that load sets.  Tokens are compared
  in constant time (:func:`secrets.compare_digest`).  Missing or wrong: 401.

Every response also carries headers that keep the page to itself: a Content Security
Policy allowing scripts, styles and data only from the server (names in a recording
cannot become script), no framing, no referrer, no caching of data.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

COOKIE = "stax_token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]],
                   Awaitable[None]]

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:;"
     b" connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


def new_token() -> str:
    """A fresh random token for one ``stax serve`` run (192 bits)."""
    return secrets.token_urlsafe(24)


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """The Host header values a browser sends for the bound address, lower case."""
    names = {f"[{host}]" if ":" in host else host}
    if host in ("127.0.0.1", "::1", "localhost"):
        names.update(LOOPBACK_NAMES)
    return frozenset(f"{name.lower()}:{port}" for name in names)


class Guard:
    """ASGI middleware: the Host check, then the token check, then the app.

    A ``GET`` with a correct ``?token=`` gets the cookie set on its response, so the
    page's own requests (scripts, ``fetch``) need nothing more.
    """

    def __init__(self, app: ASGIApp, token: str, hosts: frozenset[str]) -> None:
        self.app = app
        self.token = token
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return  # websockets: none are served
        headers = _headers(scope)
        if headers.get("host", "").lower() not in self.hosts:
            await _refuse(send, 403, "This server answers only at the address stax serve printed;"
                          " open that URL (a different Host header is refused).")
            return
        query_token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        cookie_token = _cookie(headers.get("cookie", ""))
        by_query = bool(query_token) and secrets.compare_digest(query_token.encode(), self.token.encode())
        by_cookie = bool(cookie_token) and secrets.compare_digest(cookie_token.encode(), self.token.encode())
        if not (by_query or by_cookie):
            await _refuse(send, 401, "This request has no valid stax token; open the URL with"
                          " ?token= that stax serve printed.")
            return
        set_cookie = by_query and not by_cookie

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                if set_cookie:
                    extra.append((b"set-cookie", f"{COOKIE}={self.token}; Path=/; HttpOnly;"
                                  " SameSite=Strict".encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers, lower-case names; a repeated Host header is refused by keeping neither."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name == "host" and name in seen:
            out[name] = ""  # two Host headers: ambiguous, refuse
            continue
        seen.add(name)
        out[name] = f"{out[name]}; {value}" if name == "cookie" and name in out else value
    return out


def _cookie(header: str) -> str:
    if not header:
        return ""
    jar = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is just no token
        return ""
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else ""


async def _refuse(send: Callable, status: int, sentence: str) -> None:
    body = json.dumps({"error": sentence}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
