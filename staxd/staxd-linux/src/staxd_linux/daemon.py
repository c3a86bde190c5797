"""staxd: the root daemon that opens perf events for permitted users and hands back the fds.

One thread per connection, bounded by the policy's ``max_clients`` and, per user,
``max_clients_per_user`` (:mod:`staxd_linux.client_limits`); a connection may wait
``idle_timeout`` for its next request and a reply may take ``client_timeout`` to be
read, so a slow or silent client holds only its own thread.  Each message is parsed
and validated (:mod:`stax_backend_linux.staxd_protocol`), checked against the policy
(:mod:`staxd_linux.authorization`), charged to its user's fd budget, opened
(:mod:`staxd_linux.event_sets`), confirmed (the targets did not change meanwhile) and
the fds are sent with SCM_RIGHTS; the daemon closes its own copies as each message
leaves and never reads event data.  A connection refused at a limit gets the retry
sentence, never a reset (:mod:`staxd_linux.connection_closer`).  Anything unexpected
on a connection is answered with one sentence and at worst ends that connection,
never the daemon.
"""

from __future__ import annotations

import array
import errno
import logging
import os
import resource
import signal
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Any

from stax_backend_linux.staxd_protocol import (
    FDS_PER_MESSAGE,
    KINDS,
    MAX_MESSAGE,
    VERSION,
    Hello,
    OpenRequest,
    ProtocolError,
    decode,
    encode,
    error_reply,
    parse_request,
)
from stax_backend_linux.targets import online_cpus
from staxd_linux import __version__, privileges, rate_limit, tracefs
from staxd_linux.authorization import Refusal, authorize_open, check_connect, fd_count
from staxd_linux.client_limits import SHORT_OF_FDS, ClientLimits, LimitReached
from staxd_linux.connection_closer import ConnectionCloser, unread_bytes
from staxd_linux.event_sets import Granted, open_plan
from staxd_linux.peer import Peer, group_id, peer_of
from staxd_linux.policy import Policy

ACCEPT_TICK_S = 0.5
ACCEPT_BACKOFF_S = 0.05
_ANCILLARY = socket.CMSG_SPACE(253 * 4)  # room for SCM_MAX_FD descriptors, so we can close them all

log = logging.getLogger("staxd")


class StartupError(Exception):
    """The daemon cannot start; ``str()`` is the one sentence printed before exiting."""


def _close_passed_fds(ancdata: list[tuple[int, int, bytes]]) -> int:
    """Close any descriptors a client sent us: we never use them, and must not leak them."""
    count = 0
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
                count += 1
    return count


class _Undelivered(Exception):
    """The client did not read all of a grant within client_timeout: ``fds`` stay charged."""

    def __init__(self, fds: int) -> None:
        super().__init__(fds)
        self.fds = fds


def _open_fd_count() -> int:
    return len(os.listdir("/proc/self/fd")) - 1  # listdir's own fd


class Daemon:
    """The listening socket and the connection threads."""

    def __init__(self, socket_path: Path, policy: Policy) -> None:
        self.socket_path = socket_path
        self.policy = policy
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self.limits = ClientLimits(policy, baseline_fds=0)
        self.closer = ConnectionCloser(self._discard_messages)
        self._spare_fd = -1
        """held open so that, out of fds, one accept() still works and the client is told to retry"""

    # -- socket ---------------------------------------------------------------------------------

    def bind(self) -> None:
        """Create the socket (mode and group from the policy), replacing a stale one."""
        path = self.socket_path
        if path.exists() or path.is_symlink():
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise StartupError(f"{path} exists and is not a socket; remove it or choose another "
                                   f"--socket.")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                probe.connect(str(path))
            except OSError:
                path.unlink()  # nobody listens: left over from a daemon that died
            else:
                raise StartupError(f"another staxd is already listening on {path}.")
            finally:
                probe.close()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        old_umask = os.umask(0o177)  # no window in which the socket is open to everyone
        try:
            listener.bind(str(path))
        except OSError as exc:
            listener.close()
            raise StartupError(f"cannot create the socket {path} ({exc.strerror}).") from None
        finally:
            os.umask(old_umask)
        gid = group_id(self.policy.socket_group)
        if gid is None:
            gid = 0
            log.warning("group %r does not exist, so only root can connect to %s; run 'sudo stax setup'",
                        self.policy.socket_group, path)
        os.chown(path, 0, gid)
        os.chmod(path, self.policy.socket_mode)
        listener.listen(64)
        listener.settimeout(ACCEPT_TICK_S)
        self._listener = listener

    # -- main loop ------------------------------------------------------------------------------

    def serve_forever(self) -> None:
        """Accept until :meth:`stop`; each connection gets its own thread."""
        assert self._listener is not None, "bind() first"
        log.info("listening on %s (policy: %s, protocol %d)", self.socket_path, self.policy.source, VERSION)
        self._spare_fd = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        self.limits.baseline_fds = _open_fd_count()
        self.closer.start()
        try:
            while not self._stop.is_set():
                try:
                    conn, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError as exc:
                    if exc.errno in (errno.EMFILE, errno.ENFILE):
                        self._accept_short_of_fds()
                    else:
                        log.warning("accept failed: %s", exc.strerror)
                        time.sleep(ACCEPT_BACKOFF_S)
                    continue
                self._start_connection(conn)
        finally:
            self._listener.close()
            try:
                self.socket_path.unlink()
            except OSError:
                pass
            self.closer.stop()
            log.info("stopped")

    def stop(self) -> None:
        self._stop.set()

    def _accept_short_of_fds(self) -> None:
        """Out of fds: give up the spare one for one accept, tell that client to retry, take it back."""
        if self._spare_fd >= 0:
            os.close(self._spare_fd)
            self._spare_fd = -1
            try:
                conn, _ = self._listener.accept()  # type: ignore[union-attr]
            except OSError:
                pass
            else:
                log.warning("refuse a connection: %s", SHORT_OF_FDS)
                self.closer.refuse(conn, encode(error_reply(_sentence(SHORT_OF_FDS))), lambda: None)
        time.sleep(ACCEPT_BACKOFF_S)
        try:
            self._spare_fd = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._spare_fd = -1  # still short: try again at the next EMFILE

    def _start_connection(self, conn: socket.socket) -> None:
        try:
            peer = peer_of(conn)
        except OSError:
            conn.close()
            return
        try:
            self.limits.connect(peer.uid)
        except LimitReached as exc:
            log.warning("refuse %s connection: %s", peer.describe(), exc)
            self.closer.refuse(conn, encode(error_reply(_sentence(str(exc)))), lambda: None)
            return
        try:
            threading.Thread(target=self._serve_connection, args=(conn, peer), daemon=True).start()
        except RuntimeError:  # cannot start a thread: shed this client, keep the daemon
            self.limits.stop_serving()
            self.limits.disconnect(peer.uid)
            busy = "staxd cannot start another thread right now; try again in a moment."
            self.closer.refuse(conn, encode(error_reply(busy)), lambda: None)

    def _serve_connection(self, conn: socket.socket, peer: Peer) -> None:
        undelivered = 0
        try:
            try:
                check_connect(peer, self.policy)  # the credentials are those of connect(): decide once
            except Refusal as exc:
                self._refuse_connection(conn, peer, exc)
                return
            while self._serve_one(conn, peer):
                pass
        except _Undelivered as exc:
            undelivered = exc.fds
        except TimeoutError:
            pass
        except OSError:
            pass  # the client went away mid-reply
        except Exception as exc:  # a bug must cost one connection, never the daemon
            log.error("internal error serving %s: %r", peer.describe(), exc)
        finally:
            self.limits.stop_serving()
            if undelivered:
                log.info("%s has not read %d granted fds; they stay charged to it until it does or hangs up",
                         peer.describe(), undelivered)
                self.closer.linger(conn, lambda: self._lingered(peer.uid, undelivered))
            else:
                conn.close()
                self.limits.disconnect(peer.uid)

    def _lingered(self, uid: int, fds: int) -> None:
        self.limits.release(uid, fds)
        self.limits.disconnect(uid)

    @staticmethod
    def _discard_messages(conn: socket.socket) -> bool:
        """Read (and drop) every message waiting on non-blocking ``conn``; False if the client hung up."""
        while True:
            try:
                data, ancdata, _flags, _ = conn.recvmsg(MAX_MESSAGE, _ANCILLARY)
            except BlockingIOError:
                return True
            passed = _close_passed_fds(ancdata)
            if not data and not passed:
                return False

    # -- one message ----------------------------------------------------------------------------

    def _refuse_connection(self, conn: socket.socket, peer: Peer, refusal: Refusal) -> None:
        """Answer the first message of a client that may not connect with the reason, then hang up.

        Its bytes are never parsed: someone outside the policy does not get to exercise the parser.
        """
        conn.settimeout(self.policy.idle_timeout)
        _data, ancdata, _flags, _ = conn.recvmsg(MAX_MESSAGE, _ANCILLARY)
        _close_passed_fds(ancdata)
        log.info("refuse %s connection: %s", peer.describe(), refusal)
        self._send(conn, error_reply(_sentence(str(refusal))))

    def _serve_one(self, conn: socket.socket, peer: Peer) -> bool:
        """Read and answer one message; False ends the connection."""
        conn.settimeout(self.policy.idle_timeout)  # waiting for a request
        data, ancdata, flags, _ = conn.recvmsg(MAX_MESSAGE, _ANCILLARY)
        passed = _close_passed_fds(ancdata)
        if not data and not passed:
            return False  # orderly shutdown by the client (or an empty message, which means the same)
        try:
            if flags & socket.MSG_TRUNC:
                raise ProtocolError(f"message exceeds the {MAX_MESSAGE}-byte limit.")
            if passed:
                raise ProtocolError("clients must not send file descriptors to staxd.")
            request = parse_request(decode(data))
        except ProtocolError as exc:
            log.info("refuse %s malformed request: %s", peer.describe(), exc)
            self._send(conn, error_reply(f"Malformed request: {exc}"))
            return True
        if isinstance(request, Hello):
            self._send(conn, self._hello(peer))
            return True
        self._open(conn, peer, request)
        return True

    def _hello(self, peer: Peer) -> dict[str, Any]:
        return {
            "v": VERSION, "ok": True, "op": "hello", "server": "staxd-linux", "version": __version__,
            "peer": {"uid": peer.uid, "gid": peer.gid, "pid": peer.pid},
            "may_connect": True,  # check_connect() passed for this connection
            "grants": self.policy.grants(peer.is_root), "kinds": list(KINDS),
            "max_frequency": self.policy.max_frequency, "cpus": online_cpus(),
            "rate_limit": rate_limit.enforcement(), "policy_file": str(self.policy.file),
        }

    def _open(self, conn: socket.socket, peer: Peer, request: OpenRequest) -> None:
        """Authorize, charge, open, confirm, send; the fds stay charged until the client has read them."""
        charged = 0
        try:
            plan = authorize_open(peer, self.policy, request, online_cpus())
            try:
                charged = fd_count(plan)
                self.limits.charge(peer.uid, charged)
            except LimitReached as exc:
                charged = 0
                plan.release()
                raise Refusal(str(exc)) from None
            try:
                granted = open_plan(plan, lambda line: log.info("%s", line))
                try:
                    plan.confirm()  # a set-user-id exec between the check and the open withdraws the grant
                except Refusal:
                    _close_all(granted)
                    raise
            finally:
                plan.release()
        except Refusal as exc:
            self.limits.release(peer.uid, charged)
            log.info("refuse %s %s: %s", peer.describe(), request.summary(), exc)
            self._send(conn, error_reply(_sentence(str(exc))))
            return
        self.limits.release(peer.uid, charged - len(granted))  # threads that exited meanwhile
        charged = len(granted)
        try:
            self._send_granted(conn, granted)
        except OSError:
            raise _Undelivered(charged) from None  # what left may sit unread in the client's socket
        log.info("grant %s %s fds=%d", peer.describe(), request.summary(), len(granted))
        if not self._delivered(conn):
            raise _Undelivered(charged)
        self.limits.release(peer.uid, charged)

    def _delivered(self, conn: socket.socket) -> bool:
        """Wait up to client_timeout for the client to read everything sent (or to hang up)."""
        deadline = time.monotonic() + self.policy.client_timeout
        pause = 0.0005
        while unread_bytes(conn):
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
        return True

    def _send_granted(self, conn: socket.socket, granted: Granted) -> None:
        """Send the fds in batches, each with the JSON description of the fds attached to it.

        Our copies of a batch are closed as soon as it is sent (the client holds its own
        references, or the message in its socket does), the rest if sending fails.
        """
        conn.settimeout(self.policy.client_timeout)
        sent = 0
        try:
            for start in range(0, max(len(granted), 1), FDS_PER_MESSAGE):
                batch = granted[start:start + FDS_PER_MESSAGE]
                message = {"v": VERSION, "ok": True, "op": "open", "fds": [d.to_json() for _, d in batch],
                           "more": start + FDS_PER_MESSAGE < len(granted)}
                socket.send_fds(conn, [encode(message)], [fd for fd, _ in batch])
                sent = start + len(batch)
                _close_all(batch)
        finally:
            _close_all(granted[sent:])

    def _send(self, conn: socket.socket, message: dict[str, Any]) -> None:
        conn.settimeout(self.policy.client_timeout)  # a reply in progress
        conn.sendall(encode(message))


def _close_all(granted: Granted) -> None:
    for fd, _ in granted:
        try:
            os.close(fd)
        except OSError:
            pass


def _sentence(text: str) -> str:
    """Refusals are built lower-case to compose; the client gets a capitalized sentence ("staxd" stays
    lower-case, as a name)."""
    if not text or text.startswith("staxd "):
        return text
    return text[:1].upper() + text[1:]


def raise_fd_limit() -> None:
    """Requests may open thousands of fds (threads x CPUs): use the whole hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(socket_path: Path, policy: Policy) -> None:
    """Bind, serve until SIGTERM/SIGINT, clean up the socket."""
    if os.geteuid() != 0:
        raise StartupError("staxd must run as root (it opens events on behalf of other users); "
                           "install it with 'sudo stax setup'.")
    raise_fd_limit()
    daemon = Daemon(socket_path, policy)
    daemon.bind()
    if mounted := tracefs.mount_at_startup(policy.allow_tracepoints):
        log.info("%s", mounted)
    privileges.drop_privileges()  # start-up is over: keep only what granting needs
    log.info("%s", privileges.describe())
    log.info("%s", rate_limit.describe())  # probed with the capabilities granting keeps

    def _stop(signum: int, frame: object) -> None:
        daemon.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    daemon.serve_forever()
