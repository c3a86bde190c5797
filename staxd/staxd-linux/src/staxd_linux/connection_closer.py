"""Ending connections so that the client reads what it was told, with one thread for all of them.

Two kinds of connection end here:

* **refused** at accept (a limit is reached): the sentence is sent at once, and the
  socket is closed only after the client's first message has been read (or it hung
  up, or :data:`REFUSE_WAIT_S` passed).  Closing a Unix socket that still holds
  unread data makes the peer's next recv fail with ECONNRESET instead of returning
  what was sent; closing before the client has sent makes its send fail with EPIPE.
  Either way the client would see a reset, not the retry sentence.
* **lingering**: the client has not read all of its last grant within
  ``client_timeout``.  Those fds are in flight in its socket, where only its
  reading or closing frees them, so the socket (and its user's charge, see
  :mod:`staxd_linux.client_limits`) is kept until one or the other happens.
"""

from __future__ import annotations

import fcntl
import select
import socket
import struct
import termios
import threading
import time
from collections.abc import Callable

import attrs

REFUSE_WAIT_S = 1.0
"""How long a refused client has to send its first message (it normally does at once)."""
MAX_REFUSING = 64
"""Refused sockets watched at once; beyond that (a flood) they are answered and closed at once."""
TICK_S = 0.05

Done = Callable[[], None]


def unread_bytes(sock: socket.socket) -> int:
    """Bytes sent on ``sock`` that the peer has not read yet.

    SIOCOUTQ on an AF_UNIX socket is the sender's write allocation: each message is
    charged to it until the receiver reads it, or closes its socket (unix(7)).
    """
    return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, bytes(4)))[0])


@attrs.define(slots=True, eq=False)
class _Watched:
    sock: socket.socket
    done: Done
    deadline: float | None
    """when a refused socket is closed anyway; None for a lingering one (no deadline)"""


class ConnectionCloser:
    """The thread that closes refused and lingering connections (see the module docstring)."""

    def __init__(self, drain: Callable[[socket.socket], bool]) -> None:
        self._drain = drain
        """reads every message waiting on a non-blocking socket, closing fds passed in; False at EOF"""
        self._watched: list[_Watched] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="staxd-closer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            watched, self._watched = self._watched, []
        for item in watched:
            self._finish(item)

    def refuse(self, sock: socket.socket, message: bytes, done: Done) -> None:
        """Send ``message`` (one sentence) and close once the client's request is read."""
        try:
            sock.setblocking(False)
            sock.send(message)
        except OSError:
            pass  # the client is already gone
        with self._lock:
            crowded = sum(1 for w in self._watched if w.deadline is not None) >= MAX_REFUSING
            item = _Watched(sock, done, time.monotonic() + REFUSE_WAIT_S)
            if not crowded:
                self._watched.append(item)
        if crowded:
            self._finish(item)

    def linger(self, sock: socket.socket, done: Done) -> None:
        """Keep ``sock`` until the client has read everything sent on it, or hung up; then ``done``."""
        sock.setblocking(False)
        with self._lock:
            self._watched.append(_Watched(sock, done, None))

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                watched = list(self._watched)
            if not watched:
                self._stop.wait(TICK_S)
                continue
            poller = select.poll()
            for item in watched:
                poller.register(item.sock, select.POLLIN)
            events = dict(poller.poll(TICK_S * 1000))
            now = time.monotonic()
            for item in watched:
                if self._over(item, events.get(item.sock.fileno(), 0), now):
                    with self._lock:
                        self._watched.remove(item)
                    self._finish(item)

    def _over(self, item: _Watched, event: int, now: float) -> bool:
        try:
            if event & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                return True
            if event & select.POLLIN and not self._drain(item.sock):
                return True  # EOF: the client closed its end
            if item.deadline is None:
                return unread_bytes(item.sock) == 0
            return bool(event & select.POLLIN) or now >= item.deadline
        except OSError:
            return True

    @staticmethod
    def _finish(item: _Watched) -> None:
        try:
            item.sock.close()
        finally:
            item.done()
