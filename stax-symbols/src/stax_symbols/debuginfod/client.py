"""A debuginfod client: fetch debug info (or a lost executable) by build id, and cache it.

Protocol (elfutils ``debuginfod(8)``, "WEBAPI"): ``GET <url>/buildid/<hex>/debuginfo`` and
``.../executable`` answer 200 with the ELF file, or 404.  ``DEBUGINFOD_URLS`` lists the
servers, separated by spaces; they are asked in order.  Downloads land in the stax cache
directory (``debuginfod/<build id>/<kind>``), so a file is fetched once per machine; a 404
from every server is remembered for a while (``NEGATIVE_TTL_S``) so the next run does not
ask again.  A server that cannot be reached is not asked again by this client, so one dead
URL costs one timeout per run, not one per image.

Everything that goes wrong is one sentence through ``warn``, and the caller goes on without
the file.  ``http.client`` (with ``ssl`` and ``email``, ~15 ms) is imported on the first
request: every symbolication builds a client, most never ask a server.
"""

from __future__ import annotations

import enum
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from stax_binfmt.elf import ElfFormatError, read_headers

if TYPE_CHECKING:
    import http.client

NEGATIVE_TTL_S = 3600.0
"""How long "no server has it" is believed (elfutils uses 600 s; a profile is often re-run
within the hour, and the answer rarely changes)."""
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
"""Per socket read; ``DEBUGINFOD_TIMEOUT`` (seconds, as for elfutils) overrides it."""
PROGRESS_MIN_BYTES = 1 << 20
"""Downloads smaller than this finish too fast to need a progress line."""
_MAX_REDIRECTS = 4
_CHUNK = 1 << 16

Warn = Callable[[str], None]


class _Outcome(enum.Enum):
    NOT_FOUND = "the server answered 404"
    FAILED = "the request failed (and a warning said why)"


def server_urls(environ: Mapping[str, str] | None = None) -> list[str]:
    """The servers named by ``DEBUGINFOD_URLS`` (space-separated), without trailing slashes."""
    text = (environ if environ is not None else os.environ).get("DEBUGINFOD_URLS", "")
    return [url.rstrip("/") for url in text.split() if url.startswith(("http://", "https://"))]


class DebuginfodClient:
    """Fetches ``debuginfo`` and ``executable`` files by build id from a list of servers."""

    def __init__(
        self,
        urls: Sequence[str],
        cache_root: Path,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        read_timeout: float | None = None,
        negative_ttl: float = NEGATIVE_TTL_S,
        progress: IO[str] | None = None,
    ) -> None:
        self.urls = list(urls)
        self.cache_root = cache_root
        self.connect_timeout = connect_timeout
        env_timeout = os.environ.get("DEBUGINFOD_TIMEOUT", "")
        self.read_timeout = read_timeout if read_timeout is not None else (
            float(env_timeout) if env_timeout.replace(".", "", 1).isdigit() and float(env_timeout) > 0
            else READ_TIMEOUT_S)
        self.negative_ttl = negative_ttl
        self.progress = progress if progress is not None else sys.stderr
        self.requests = 0
        """HTTP requests made (tests check that cached answers make none)."""
        self._unreachable: set[str] = set()

    def cached(self, build_id: bytes, kind: str) -> Path | None:
        """The file already in the cache, without asking any server."""
        path = self.cache_root / build_id.hex() / kind
        return path if path.is_file() else None

    def fetch(self, build_id: bytes, kind: str, label: str, warn: Warn) -> Path | None:
        """The ``kind`` file (``debuginfo`` or ``executable``) for ``build_id``, or None.

        ``label`` names the image in warnings (its path).
        """
        hit = self.cached(build_id, kind)
        if hit is not None:
            return hit
        directory = self.cache_root / build_id.hex()
        miss_marker = directory / f"{kind}.missing"
        try:
            if time.time() - miss_marker.stat().st_mtime < self.negative_ttl:
                return None
        except OSError:
            pass
        asked: list[str] = []
        all_not_found = True
        for url in self.urls:
            if url in self._unreachable:
                continue
            asked.append(url)
            result = self._fetch_from(url, build_id, kind, label, directory, warn)
            if isinstance(result, Path):
                return result
            all_not_found = all_not_found and result is _Outcome.NOT_FOUND
        if asked and all_not_found:
            what = "debug info" if kind == "debuginfo" else "a copy of the executable"
            servers = " ".join(asked)
            warn(f"No debuginfod server ({servers}) has {what} for {label} (build id {build_id.hex()});"
                 " its frames are named from its symbol table, if any.")
            try:
                directory.mkdir(parents=True, exist_ok=True)
                miss_marker.touch()
            except OSError:
                pass
        return None

    def _fetch_from(
        self, base: str, build_id: bytes, kind: str, label: str, directory: Path, warn: Warn
    ) -> Path | _Outcome:
        """Ask one server: the saved file, NOT_FOUND on 404, or FAILED (already warned)."""
        import http.client
        import urllib.parse

        url = f"{base}/buildid/{build_id.hex()}/{kind}"
        try:
            for _ in range(_MAX_REDIRECTS + 1):
                conn, response = self._get(url)
                try:
                    if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
                        url = urllib.parse.urljoin(url, response.getheader("Location", ""))
                        continue
                    if response.status == 404:
                        return _Outcome.NOT_FOUND
                    if response.status != 200:
                        warn(f"The debuginfod server {base} answered HTTP {response.status} for {label};"
                             " its debug info was not downloaded.")
                        return _Outcome.FAILED
                    return self._save(response, build_id, kind, label, base, directory, warn)
                finally:
                    conn.close()
            warn(f"The debuginfod server {base} redirected too often for {label}; its debug info was not"
                 " downloaded.")
            return _Outcome.FAILED
        except (OSError, http.client.HTTPException) as exc:
            self._unreachable.add(base)
            reason = "timed out" if isinstance(exc, TimeoutError) else (  # socket.timeout is TimeoutError
                getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
            warn(f"Cannot reach the debuginfod server {base} ({reason}); check DEBUGINFOD_URLS or"
                 " pass --no-debuginfod.")
            return _Outcome.FAILED

    def _get(self, url: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        import http.client
        import urllib.parse

        parts = urllib.parse.urlsplit(url)
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname or "", parts.port, timeout=self.connect_timeout)
        self.requests += 1
        conn.connect()
        if conn.sock is not None:
            conn.sock.settimeout(self.read_timeout)  # connected: now the (longer) read timeout
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", path, headers={"User-Agent": "stax-symbols", "Accept-Encoding": "identity"})
        return conn, conn.getresponse()

    def _save(
        self,
        response: http.client.HTTPResponse,
        build_id: bytes,
        kind: str,
        label: str,
        base: str,
        directory: Path,
        warn: Warn,
    ) -> Path | _Outcome:
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / kind
        partial = directory / f".{kind}.{os.getpid()}.part"
        length_header = response.getheader("Content-Length") or response.getheader("X-Debuginfod-Size")
        total = int(length_header) if length_header and length_header.isdigit() else None
        show = self.progress.isatty() and (total is None or total >= PROGRESS_MIN_BYTES)
        received = 0
        last_shown = 0.0
        try:
            with open(partial, "wb") as out:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    if show and time.monotonic() - last_shown > 0.2:
                        last_shown = time.monotonic()
                        of = f" of {total / 1e6:.1f}" if total else ""
                        self.progress.write(f"\r\x1b[Kstax: downloading debug info for"
                                            f" {os.path.basename(label)}: {received / 1e6:.1f}{of} MB")
                        self.progress.flush()
            if total is not None and received != total:
                raise OSError(f"the download ended after {received} of {total} bytes")
            problem = _check_elf(partial, build_id)
            if problem:
                warn(f"The debuginfod server {base} sent something that is not the {kind} of {label}"
                     f" ({problem}); it was discarded.")
                partial.unlink(missing_ok=True)
                return _Outcome.FAILED
            os.replace(partial, final)
            return final
        except OSError:
            partial.unlink(missing_ok=True)
            raise
        finally:
            if show:
                self.progress.write("\r\x1b[K")
                self.progress.flush()


def _check_elf(path: Path, build_id: bytes) -> str | None:
    """Why the downloaded file is not the ELF object with ``build_id``, or None if it is."""
    try:
        with open(path, "rb") as stream:
            found = read_headers(stream).build_id
    except (ElfFormatError, OSError):
        return "not an ELF file"
    if found != build_id:
        return f"its build id is {found.hex() if found else 'missing'}"
    return None
