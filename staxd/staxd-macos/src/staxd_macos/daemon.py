"""staxd on macOS: records with kperf/kdebug for permitted users and streams them the records.

One thread per connection, each with the policy's receive timeout.  A connection is
checked (:mod:`.peer`, :mod:`.authorization`) before anything else is read; then
``hello`` gets the grants and ``record`` starts a recording: the trace source (the
kernel, :class:`stax_backend_macos.trace_source.TraceSource`) is started, its thread
map and records are streamed, cut to the client's processes unless it is root or
recording system-wide (:class:`stax_backend_macos.record_filter.RecordFilter`), until
the client says ``stop`` or goes away; tracing is always torn down.  ktrace has one
owner, so one recording runs at a time and other clients are told so.  The daemon
runs on Linux in the tests, with a trace source that replays synthesized records.
"""

from __future__ import annotations

import grp
import logging
import os
import select
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from stax.errors import StaxError
from stax_backend_linux.staxd_protocol import VERSION, ProtocolError, error_reply
from stax_backend_macos.record_filter import RecordFilter
from stax_backend_macos.staxd_wire import (
    MAX_DATA_FRAME,
    RECORDS,
    THREAD_MAP,
    RecordRequest,
    parse_message,
    recv_json,
    send_frame,
    send_json,
)
from stax_backend_macos.trace_source import TraceStart
from staxd_macos import __version__
from staxd_macos.authorization import Refusal, authorize_record, check_connect, grants, process_owner
from staxd_macos.peer import Peer, PeerError, peer_of
from staxd_macos.policy import Policy

ACCEPT_TICK_S = 0.5
DRAIN_MS = 100
log = logging.getLogger("staxd")


class Source(Protocol):
    def start(self) -> TraceStart: ...
    def drain(self, timeout_ms: int = DRAIN_MS) -> bytes: ...
    def stop(self) -> bytes: ...


def kernel_source(request: RecordRequest) -> Source:
    from stax_backend_macos.trace_source import TraceSource

    return TraceSource(request)


class Daemon:
    """The listening socket, the connection threads and the one recording."""

    def __init__(self, socket_path: Path, policy: Policy,
                 source_factory: Callable[[RecordRequest], Source] = kernel_source,
                 owner_of: Callable[[int], int | None] = process_owner) -> None:
        self.socket_path = socket_path
        self.policy = policy
        self.source_factory = source_factory
        self.owner_of = owner_of
        self.stopping = threading.Event()
        self._recording = threading.Lock()
        self._listener: socket.socket | None = None

    def bind(self) -> None:
        """Create the socket: root:socket_group, socket_mode (a stale socket from a crash is replaced)."""
        self.socket_path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.socket_path))
        if os.geteuid() == 0:
            try:
                os.chown(self.socket_path, 0, grp.getgrnam(self.policy.socket_group).gr_gid)
            except KeyError:
                log.warning("group %r does not exist; the socket stays root's", self.policy.socket_group)
        os.chmod(self.socket_path, self.policy.socket_mode)
        listener.listen(8)
        listener.settimeout(ACCEPT_TICK_S)
        self._listener = listener

    def serve(self) -> None:
        """Accept until :attr:`stopping` is set; then close the socket and remove it."""
        assert self._listener is not None
        log.info("staxd-macos %s listening on %s (policy: %s)", __version__, self.socket_path,
                 self.policy.source)
        try:
            while not self.stopping.is_set():
                try:
                    conn, _ = self._listener.accept()
                except TimeoutError:
                    continue
                threading.Thread(target=self._connection, args=(conn,), daemon=True).start()
        finally:
            self._listener.close()
            self.socket_path.unlink(missing_ok=True)

    # -- one connection -----------------------------------------------------------------------------

    def _connection(self, conn: socket.socket) -> None:
        with conn:
            try:
                peer = peer_of(conn)
            except (PeerError, OSError) as exc:
                log.warning("refused a peer whose credentials cannot be read (%s)", exc)
                return
            conn.settimeout(self.policy.client_timeout)
            try:
                check_connect(peer, self.policy)
            except Refusal as refusal:
                log.info("refused %s: %s", peer.describe(), refusal)
                self._send(conn, error_reply(str(refusal)))
                return
            try:
                self._serve(conn, peer)
            except (OSError, ProtocolError) as exc:
                log.info("connection of %s ended: %s", peer.describe(), exc)

    @staticmethod
    def _send(conn: socket.socket, message: dict) -> None:
        try:
            send_json(conn, message)
        except OSError:
            pass

    def _serve(self, conn: socket.socket, peer: Peer) -> None:
        while not self.stopping.is_set():
            message = recv_json(conn)
            if message is None:
                return
            try:
                request = parse_message(message)
            except ProtocolError as exc:
                send_json(conn, error_reply(str(exc)))
                continue
            if request == "hello":
                send_json(conn, {"v": VERSION, "ok": True, "daemon": "staxd-macos", "version": __version__,
                                 "uid": peer.uid, "grants": grants(peer, self.policy)})
            elif request == "stop":
                send_json(conn, error_reply("nothing is being recorded for you; send record first."))
            else:
                assert isinstance(request, RecordRequest)
                try:
                    authorize_record(peer, request, self.policy, self.owner_of)
                except Refusal as refusal:
                    log.info("refused %s: %s", peer.describe(), refusal)
                    send_json(conn, error_reply(str(refusal)))
                    continue
                if not self._recording.acquire(blocking=False):
                    send_json(conn, error_reply("staxd is recording for another client (macOS lets one tool"
                                                " trace at a time); try again when it finishes."))
                    continue
                try:
                    self._record(conn, peer, request)
                finally:
                    self._recording.release()
                return

    def _record(self, conn: socket.socket, peer: Peer, request: RecordRequest) -> None:
        log.info("recording for %s: %s", peer.describe(), request)
        source = self.source_factory(request)
        try:
            start = source.start()
        except StaxError as exc:
            source.stop()
            send_json(conn, error_reply(str(exc)))
            return
        cut: RecordFilter | None = None
        thread_map = start.thread_map
        if not (peer.is_root or request.system_wide):
            cut, thread_map = RecordFilter.for_map(set(request.pids), thread_map)
        stopped_by_client = False
        try:
            send_json(conn, {"v": VERSION, "ok": True, "op": "recording", "timebase": list(start.timebase),
                             "period_ns": start.period_ns, "counter_names": list(start.counter_names),
                             "start": start.start_ticks})
            send_frame(conn, THREAD_MAP, thread_map)
            while not self.stopping.is_set():
                self._stream(conn, source.drain(DRAIN_MS), cut)
                if select.select([conn], [], [], 0)[0]:
                    message = recv_json(conn)
                    if message is None or parse_message(message) == "stop":
                        stopped_by_client = message is not None
                        break
                    send_json(conn, error_reply("only stop is understood while recording."))
        except (OSError, ProtocolError) as exc:
            log.info("the client of a recording went away (%s)", exc)
        finally:
            rest = source.stop()
        if stopped_by_client or self.stopping.is_set():
            try:
                self._stream(conn, rest, cut)
                send_json(conn, {"v": VERSION, "ok": True, "op": "stopped",
                                 "dropped_records": cut.dropped if cut else 0})
            except OSError:
                pass
        log.info("recording for %s ended", peer.describe())

    @staticmethod
    def _stream(conn: socket.socket, data: bytes, cut: RecordFilter | None) -> None:
        if cut is not None:
            data = cut.filter(data)
        for offset in range(0, len(data), MAX_DATA_FRAME):
            send_frame(conn, RECORDS, data[offset: offset + MAX_DATA_FRAME])
