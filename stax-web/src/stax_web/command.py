"""``stax serve``: open a recording's views in the browser, served from this machine.

The recording (and ``--base``) are opened and checked before anything is bound, so a
missing, corrupt or foreign file is the reader's one sentence and a non-zero exit.
Then the socket is bound (127.0.0.1 and a free port unless told otherwise), the URL
with its token is the first line of stdout (scripts and tests read it), the browser is
opened unless ``--no-open``, and uvicorn serves until Ctrl-C.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from stax.errors import StaxError, UsageError

DEFAULT_RECORDING = Path("stax.stax")
"""What ``stax record`` writes when given no ``-o`` (the same default as ``stax top``)."""


def serve(
    recording: Path = DEFAULT_RECORDING,
    /,
    *,
    port: Annotated[int, Parameter(name=["--port"])] = 0,
    host: Annotated[str, Parameter(name=["--host"])] = "127.0.0.1",
    no_open: Annotated[bool, Parameter(name=["--no-open"], negative="")] = False,
    base: Annotated[Path | None, Parameter(name=["--base"])] = None,
) -> int:
    """Serve a recording's views in the browser: flame graph, call tree, timeline, threads, diff.

    Prints the URL (with its access token) as the first line of standard output and
    opens it in the browser. Only this machine can connect unless ``--host`` says
    otherwise; every request needs the token, and requests naming another host are
    refused. Ctrl-C stops the server. Example: ``stax serve rec.stax --base old.stax``.

    Parameters
    ----------
    recording
        The .stax file written by ``stax record``.
    port
        The TCP port (default: a free one).
    host
        The address to listen on (default 127.0.0.1: this machine only).
    no_open
        Do not open a browser; just print the URL.
    base
        An earlier recording to compare with: adds the differential flame graph and table.
    """
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is not a TCP port; give 1-65535, or leave it out for a free one.")
    address = _checked_host(host)
    from stax_web.session import Session

    session = Session.open(recording, base)
    try:
        sock = _bind(address, port)
        bound_port = sock.getsockname()[1]
        from stax_web.app import build_app
        from stax_web.security import new_token
        from stax_web.views import warm

        session.submit(warm, session)
        token = new_token()
        url = f"http://{_url_host(address)}:{bound_port}/?token={token}"
        print(url, flush=True)
        print(f"stax: serving {recording} at {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        if not no_open:
            _open_browser(url)
        _run(build_app(session, token, address, bound_port), sock)
    finally:
        session.close()
    print("stax: stopped.", file=sys.stderr)
    return 0


def _checked_host(host: str) -> str:
    """The address to bind: an IP address or ``localhost``; a wildcard is refused, since the
    Host check needs the one address browsers will use."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise UsageError(f"--host {host!r} is not an IP address; give one this machine has, e.g."
                         " --host 127.0.0.1 (the default).") from None
    if ip.is_unspecified:
        raise UsageError(f"--host {host} listens on every address, which the Host check cannot allow;"
                         " give the one address browsers will use, e.g. --host 192.168.1.5.")
    return str(ip)


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _bind(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise StaxError(f"Cannot listen on {_url_host(address)}:{port} ({exc.strerror}); choose"
                        " another --port (or leave it out for a free one) or another --host.") from None
    sock.set_inheritable(True)
    return sock


def _open_browser(url: str) -> None:
    """Open ``url`` in a graphical browser, in the background; on a host without a display
    (ssh, a server) a console browser would take over the terminal, so say what to do."""
    has_display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if sys.platform.startswith("linux") and not has_display:
        print("stax: no display here; open the URL above in a browser (ssh -L PORT:127.0.0.1:PORT"
              " forwards it from another machine).", file=sys.stderr, flush=True)
        return
    import webbrowser

    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()


def _run(app: object, sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, proxy_headers=False,
                            server_header=False, lifespan="off", timeout_graceful_shutdown=2)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it shut down on: stopping is what the user asked for
