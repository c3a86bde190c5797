"""A real ``stax serve`` for the web tests: the command started as a process, its URL read
from the first line of its stdout, and requests sent with the Host header and cookie a
test chooses (``http.client``, so nothing normalises a path or a header on the way)."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STAX = str(Path(sys.executable).parent / "stax")
URL_LINE = re.compile(r"^http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]{32})$")


class Served:
    """One running server: ``port``, ``token``, and :meth:`get` / :meth:`api`."""

    def __init__(self, proc: subprocess.Popen[str], first_line: str) -> None:
        self.proc = proc
        self.first_line = first_line
        match = URL_LINE.match(first_line)
        assert match, f"first stdout line is not the URL: {first_line!r}"
        self.port = int(match.group(1))
        self.token = match.group(2)
        self.url = first_line

    def get(self, path: str, *, host: str | None = None, cookie: bool = True,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """GET ``path`` as given (no normalising); the token cookie unless ``cookie=False``."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host if host is not None else f"127.0.0.1:{self.port}")
            if cookie:
                conn.putheader("Cookie", f"stax_token={self.token}")
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            conn.endheaders()
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def api(self, path: str, status: int = 200) -> dict:
        """The JSON of an authorised GET, which must answer ``status``."""
        got, _, body = self.get(path)
        assert got == status, f"GET {path}: {got} {body[:300]!r}"
        return json.loads(body)


@contextmanager
def serve(*args: str, timeout: float = 60.0) -> Iterator[Served]:
    """``stax serve ARGS --no-open`` running until the block ends; then Ctrl-C (SIGINT) must stop
    it with status 0."""
    proc = subprocess.Popen([STAX, "serve", *args, "--no-open"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        served = Served(proc, _first_line(proc, timeout))
        yield served
    finally:
        _, err = stop(proc)
    assert proc.returncode == 0 and "Traceback" not in err, f"stax serve exited {proc.returncode}: {err}"


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    line = proc.stdout.readline()  # the server prints it before serving; a failure closes stdout
    if not line:
        _, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        raise AssertionError(f"stax serve exited {proc.returncode}: {err}")
    return line.rstrip("\n")


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Ctrl-C the server (kill it if it does not stop); its remaining stdout and stderr."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()
