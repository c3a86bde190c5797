"""staxd: the root daemon that opens perf events for permitted users and hands back the fds.

One thread per connection (bounded by the policy's ``max_clients``), each with a
receive timeout, so a slow or silent client holds only its own thread.  Each
message is parsed and validated (:mod:`stax_backend_linux.staxd_protocol`), checked against
the policy (:mod:`staxd_linux.authorization`), opened
(:mod:`staxd_linux.event_sets`) and the fds are sent with SCM_RIGHTS; the daemon
closes its own copies right after and never reads event data.  Anything
unexpected on a connection is answered with one sentence and at worst ends that
connection, never the daemon.
"""

from __future__ import annotations

import array
import logging
import os
import resource
import signal
import socket
import stat
import threading
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
from staxd_linux.authorization import Refusal, authorize_open, check_connect, may_connect
from staxd_linux.event_sets import Granted, open_plan
from staxd_linux.peer import Peer, group_id, peer_of
from staxd_linux.policy import Policy

ACCEPT_TICK_S = 0.5
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


class Daemon:
    """The listening socket and the connection threads."""

    def __init__(self, socket_path: Path, policy: Policy) -> None:
        self.socket_path = socket_path
        self.policy = policy
        self._stop = threading.Event()
        self._active = 0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

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
        try:
            while not self._stop.is_set():
                try:
                    conn, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError as exc:
                    log.warning("accept failed: %s", exc.strerror)
                    continue
                self._start_connection(conn)
        finally:
            self._listener.close()
            try:
                self.socket_path.unlink()
            except OSError:
                pass
            log.info("stopped")

    def stop(self) -> None:
        self._stop.set()

    def _start_connection(self, conn: socket.socket) -> None:
        with self._lock:
            busy = self._active >= self.policy.max_clients
            if not busy:
                self._active += 1
        if busy:
            try:
                conn.settimeout(0.1)
                conn.send(encode(error_reply(f"staxd is serving {self.policy.max_clients} clients already; "
                                             f"try again in a moment.")))
            except OSError:
                pass
            conn.close()
            log.warning("refused a connection: %d clients already", self.policy.max_clients)
            return
        try:
            threading.Thread(target=self._serve_connection, args=(conn,), daemon=True).start()
        except RuntimeError:  # cannot start a thread: shed this client, keep the daemon
            with self._lock:
                self._active -= 1
            conn.close()

    def _serve_connection(self, conn: socket.socket) -> None:
        peer: Peer | None = None
        try:
            peer = peer_of(conn)
            conn.settimeout(self.policy.client_timeout)
            try:
                check_connect(peer, self.policy)  # the credentials are those of connect(): decide once
            except Refusal as exc:
                self._refuse_connection(conn, peer, exc)
                return
            while self._serve_one(conn, peer):
                pass
        except TimeoutError:
            pass
        except OSError:
            pass  # the client went away mid-reply
        except Exception as exc:  # a bug must cost one connection, never the daemon
            who = peer.describe() if peer else "unknown peer"
            log.error("internal error serving %s: %r", who, exc)
        finally:
            conn.close()
            with self._lock:
                self._active -= 1

    # -- one message ----------------------------------------------------------------------------

    def _refuse_connection(self, conn: socket.socket, peer: Peer, refusal: Refusal) -> None:
        """Answer the first message of a client that may not connect with the reason, then hang up.

        Its bytes are never parsed: someone outside the policy does not get to exercise the parser.
        """
        _data, ancdata, _flags, _ = conn.recvmsg(MAX_MESSAGE, _ANCILLARY)
        _close_passed_fds(ancdata)
        log.info("refuse %s connection: %s", peer.describe(), refusal)
        self._send(conn, error_reply(_sentence(str(refusal))))

    def _serve_one(self, conn: socket.socket, peer: Peer) -> bool:
        """Read and answer one message; False ends the connection."""
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
            "may_connect": may_connect(peer, self.policy),
            "grants": self.policy.grants(peer.is_root), "kinds": list(KINDS),
            "max_frequency": self.policy.max_frequency, "cpus": online_cpus(),
            "rate_limit": rate_limit.enforcement(), "policy_file": str(self.policy.file),
        }

    def _open(self, conn: socket.socket, peer: Peer, request: OpenRequest) -> None:
        try:
            plan = authorize_open(peer, self.policy, request, online_cpus())
            try:
                granted = open_plan(plan, lambda line: log.info("%s", line))
            finally:
                plan.release()
        except Refusal as exc:
            log.info("refuse %s %s: %s", peer.describe(), request.summary(), exc)
            self._send(conn, error_reply(_sentence(str(exc))))
            return
        try:
            self._send_granted(conn, granted)
        finally:
            for fd, _ in granted:
                os.close(fd)  # the client holds its own references now (or never will)
        log.info("grant %s %s fds=%d", peer.describe(), request.summary(), len(granted))

    def _send_granted(self, conn: socket.socket, granted: Granted) -> None:
        """Send the fds in batches, each with the JSON description of the fds attached to it."""
        for start in range(0, max(len(granted), 1), FDS_PER_MESSAGE):
            batch = granted[start:start + FDS_PER_MESSAGE]
            message = {"v": VERSION, "ok": True, "op": "open", "fds": [d.to_json() for _, d in batch],
                       "more": start + FDS_PER_MESSAGE < len(granted)}
            socket.send_fds(conn, [encode(message)], [fd for fd, _ in batch])

    @staticmethod
    def _send(conn: socket.socket, message: dict[str, Any]) -> None:
        conn.sendall(encode(message))


def _sentence(text: str) -> str:
    """Refusals are built lower-case to compose; the client gets a capitalized sentence."""
    return text[:1].upper() + text[1:] if text else text


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
