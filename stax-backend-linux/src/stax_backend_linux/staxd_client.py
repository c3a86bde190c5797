"""The client side of staxd: ask the daemon for event fds, get them back with their descriptions.

The capture backend calls this when it may not open the events itself (a
restrictive perf_event_paranoid, tracepoints, hardware counters).  Every failure
is a :class:`stax.errors.CaptureError` with one sentence saying what happened and
how to fix it (usually: install staxd with ``sudo stax setup``); fds received
before a failure are closed, so an error never leaks descriptors.  It lives in the
backend (staxd-linux's ``stax doctor`` rows import it from here too), so the
backend never imports staxd_linux.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path
from types import TracebackType
from typing import Any

from stax.errors import CaptureError
from stax_backend_linux.staxd_protocol import (
    FDS_PER_MESSAGE,
    MAX_MESSAGE,
    VERSION,
    FdDescription,
    OpenRequest,
    ProtocolError,
    decode,
    encode,
)

SOCKET_ENV = "STAXD_SOCKET"
DEFAULT_SOCKET = Path("/run/staxd/staxd.sock")  # in the unit's RuntimeDirectory (docs/staxd.md)
INSTALL_HINT = "install and start it with 'sudo stax setup'"


def default_socket_path() -> Path:
    """``$STAXD_SOCKET`` if set (tests, unusual installs), else /run/staxd/staxd.sock."""
    return Path(os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET)


class StaxdUnavailable(CaptureError):
    """staxd is not running or this user may not reach its socket (as opposed to a refused request).

    ``kind`` says which, for callers that compose their own sentence: ``not-running``
    (nothing listens), ``no-access`` (the socket or a directory above it is closed to
    this user) or ``broken`` (the connection failed or the daemon did not answer).
    """

    def __init__(self, message: str, kind: str = "broken") -> None:
        super().__init__(message)
        self.kind = kind


class StaxdRefused(CaptureError):
    """staxd answered, and said no; ``str()`` is its sentence."""


def _close(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class StaxdClient:
    """One connection to staxd; connect lazily, usable as a context manager."""

    def __init__(self, socket_path: Path | str | None = None, timeout: float = 10.0) -> None:
        self.socket_path = Path(socket_path) if socket_path is not None else default_socket_path()
        self.timeout = timeout
        self._sock: socket.socket | None = None

    def __enter__(self) -> StaxdClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # -- connection -----------------------------------------------------------------------------

    def _connect(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        path = self.socket_path
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            raise StaxdUnavailable(f"staxd is not running (no daemon listens on {path}); "
                                   f"{INSTALL_HINT}.", "not-running") from None
        except PermissionError:
            sock.close()
            raise self._permission_denied(path) from None
        except OSError as exc:
            sock.close()
            raise StaxdUnavailable(f"Cannot reach staxd on {path} ({exc.strerror}); "
                                   f"{INSTALL_HINT}.") from None
        self._sock = sock
        return sock

    @staticmethod
    def _permission_denied(path: Path) -> StaxdUnavailable:
        """EACCES on connect: the socket's group shuts us out, or a directory above it does."""
        try:
            os.stat(path)
        except FileNotFoundError:
            return StaxdUnavailable(f"staxd is not running (no daemon listens on {path}); {INSTALL_HINT}.",
                                    "not-running")
        except PermissionError:
            return StaxdUnavailable(f"Cannot reach staxd's socket {path}: a directory above it is closed to "
                                    f"you; use the default {DEFAULT_SOCKET} or open that directory.",
                                    "no-access")
        return StaxdUnavailable(f"You may not use staxd's socket {path}: join group 'stax' with "
                                f"'sudo usermod -aG stax {_user_name()}' and log in again.", "no-access")

    def _exchange(self, message: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
        """Send one request and read one reply (with any fds attached to it)."""
        sock = self._connect()
        try:
            sock.send(encode(message))
        except OSError as exc:
            self.close()
            raise StaxdUnavailable(f"staxd closed the connection ({os.strerror(exc.errno or errno.EPIPE)}); "
                                   f"check 'journalctl -u staxd'.") from None
        return self._receive()

    def _receive(self) -> tuple[dict[str, Any], list[int]]:
        sock = self._connect()
        try:
            data, fds, flags, _ = socket.recv_fds(sock, MAX_MESSAGE, FDS_PER_MESSAGE)
        except TimeoutError:
            self.close()
            raise StaxdUnavailable(f"staxd did not answer within {self.timeout:g} s.") from None
        except OSError as exc:
            self.close()
            raise StaxdUnavailable(f"Lost the connection to staxd ({exc.strerror}).") from None
        if not data:
            _close(fds)
            self.close()
            raise StaxdUnavailable("staxd closed the connection without answering; check 'journalctl -u "
                                   "staxd'.")
        if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
            _close(fds)
            self.close()
            raise CaptureError("staxd's reply was truncated; the client and daemon versions may differ.")
        try:
            reply = decode(data)
        except ProtocolError as exc:
            _close(fds)
            raise CaptureError(f"staxd sent an unreadable reply ({exc}).") from None
        if reply.get("ok") is not True:
            _close(fds)
            error = reply.get("error")
            raise StaxdRefused(f"staxd refused: {error}" if isinstance(error, str)
                               else "staxd refused the request without saying why.")
        return reply, fds

    # -- requests -------------------------------------------------------------------------------

    def hello(self) -> dict[str, Any]:
        """Ask who we are to the daemon and what we may request.

        Returns the reply: ``server``, ``version``, ``peer`` (uid, gid, pid), ``grants``
        (other_users, system_wide, kernel_stacks, tracepoints, counters: bool),
        ``max_frequency``, ``kinds`` and ``cpus``.
        """
        reply, fds = self._exchange({"v": VERSION, "op": "hello"})
        _close(fds)
        return reply

    def open_events(self, request: OpenRequest) -> list[tuple[int, FdDescription]]:
        """Ask for one event set; return each fd with its description, in ``index`` order.

        The caller owns the fds (close them when done).  They are opened as the
        request's ``start`` says (by default disabled: enable with
        PERF_EVENT_IOC_ENABLE once the rings are mapped).
        """
        reply, fds = self._exchange(request.to_json())
        granted: list[tuple[int, FdDescription]] = []
        try:
            while True:
                descriptions = reply.get("fds")
                if not isinstance(descriptions, list) or len(descriptions) != len(fds):
                    raise CaptureError("staxd sent a grant whose descriptions do not match its fds.")
                for fd, raw in zip(fds, descriptions, strict=True):
                    granted.append((fd, FdDescription.from_json(raw)))
                fds = []
                if not reply.get("more"):
                    return granted
                reply, fds = self._receive()
        except ProtocolError as exc:
            _close(fds + [fd for fd, _ in granted])
            raise CaptureError(str(exc)) from None
        except BaseException:
            _close(fds + [fd for fd, _ in granted])
            raise


def _user_name() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())
