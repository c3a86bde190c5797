"""The client side of staxd-macos: ask it to record, receive the records it streams.

Same shape as :class:`~stax_backend_macos.trace_source.TraceSource` (``start``,
``drain``, ``stop``), so the capture session does not care who owns ktrace.  Every
failure is a :class:`~stax.errors.CaptureError` with one sentence: staxd missing,
the socket refused, a refusal by the policy, a broken stream.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from stax.errors import CaptureError
from stax_backend_linux.staxd_protocol import ProtocolError
from stax_backend_macos.staxd_wire import (
    DEFAULT_SOCKET,
    JSON,
    RECORDS,
    THREAD_MAP,
    RecordRequest,
    decode,
    recv_frame,
    recv_json,
    send_json,
)
from stax_backend_macos.trace_source import TraceStart

CONNECT_TIMEOUT_S = 10.0


class StaxdTrace:
    """A recording made by staxd on this client's behalf."""

    def __init__(self, request: RecordRequest, socket_path: Path = DEFAULT_SOCKET) -> None:
        self.request = request
        self.socket_path = socket_path
        self.sock: socket.socket | None = None

    def _fail(self, sentence: str) -> CaptureError:
        self.close()
        return CaptureError(sentence)

    def start(self) -> TraceStart:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            sock.connect(str(self.socket_path))
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.ENOENT, errno.ECONNREFUSED):
                raise CaptureError(f"staxd is not running (nothing listens on {self.socket_path}); run"
                                   f" `sudo stax setup` once to install it.") from None
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise CaptureError(f"You may not connect to staxd ({self.socket_path}: permission denied);"
                                   f" ask"
                                   f" an administrator to add you to group 'stax'.") from None
            raise CaptureError(f"Cannot connect to staxd at {self.socket_path} ({exc.strerror}).") from None
        self.sock = sock
        try:
            self._send(sock, {"v": 1, "op": "hello"})
            self._reply()
            self._send(sock, self.request.to_json())
            reply = self._reply()
            frame = recv_frame(sock)
        except (OSError, ProtocolError) as exc:
            raise self._fail(f"The connection to staxd broke while starting ({exc}).") from None
        if frame is None or frame[0] != THREAD_MAP:
            raise self._fail("staxd did not send the thread map; check its log (log show --predicate"
                             " 'process == \"staxd\"').")
        try:
            numer, denom = (int(v) for v in reply["timebase"])
            return TraceStart((numer, denom), int(reply["period_ns"]),
                              tuple(str(n) for n in reply.get("counter_names", [])), int(reply["start"]),
                              frame[1])
        except (KeyError, TypeError, ValueError) as exc:
            raise self._fail(f"staxd sent a malformed start reply ({exc}).") from None

    def _send(self, sock: socket.socket, message: dict) -> None:
        """Send; if staxd already hung up, what it said before (a refusal) is the answer."""
        try:
            send_json(sock, message)
        except (BrokenPipeError, ConnectionResetError):
            self._reply()
            raise

    def _reply(self) -> dict:
        assert self.sock is not None
        message = recv_json(self.sock)
        if message is None:
            raise self._fail("staxd closed the connection; check its log for why.")
        if not message.get("ok"):
            raise self._fail(f"staxd refused: {message.get('error', 'no reason given')}")
        return message

    def drain(self, timeout_ms: int = 100) -> bytes:
        """The records staxd streamed since the last call (empty when none came in ``timeout_ms``)."""
        assert self.sock is not None
        self.sock.settimeout(timeout_ms / 1000)
        try:
            frame = recv_frame(self.sock)
        except TimeoutError:
            return b""
        except (OSError, ProtocolError) as exc:
            raise self._fail(f"The stream from staxd broke ({exc}); what arrived before is kept.") from None
        if frame is None:
            raise self._fail("staxd ended the recording early; check its log for why.")
        kind, payload = frame
        if kind == RECORDS:
            return payload
        if kind == JSON:
            message = decode(payload)
            raise self._fail(f"staxd stopped the recording: {message.get('error', 'no reason given')}")
        return b""

    def stop(self) -> bytes:
        """Ask staxd to stop; the records it still had."""
        if self.sock is None:
            return b""
        rest = bytearray()
        try:
            self.sock.settimeout(CONNECT_TIMEOUT_S)
            send_json(self.sock, {"v": 1, "op": "stop"})
            while (frame := recv_frame(self.sock)) is not None:
                kind, payload = frame
                if kind == RECORDS:
                    rest += payload
                elif kind == JSON:
                    break
        except (OSError, ProtocolError):
            pass  # what arrived is kept; the daemon resets tracing on its own
        finally:
            self.close()
        return bytes(rest)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
