"""staxd's wire protocol on macOS: the shared JSON messages, framed on a stream socket, plus trace data.

macOS has no SOCK_SEQPACKET for Unix sockets and kdebug cannot be handed over as a
file descriptor, so here staxd records and streams the raw records while the client
decodes them (the pure decoder, the same one ``stax import`` uses).  Each frame is
``u32 length (big-endian) | u8 kind | payload``: kind ``J`` one JSON message of the
shared protocol (stax_backend_linux/staxd_protocol.py: version, encoding, the one-
sentence errors; issue 9 moves it to a shared leaf library), ``T`` the thread map
taken at start, ``R`` a run of ``kd_buf`` records.

A session: ``hello`` -> grants; ``record`` (validated strictly here) -> a start reply
(timebase, sample period, counter names), a ``T`` frame, ``R`` frames until the client
sends ``stop`` or closes, then ``{"op": "stopped"}``.  This module is shared by the
client (the backend) and staxd-macos, and raises only ProtocolError on untrusted bytes.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Mapping
from typing import Any

import attrs

from stax_backend_linux.staxd_protocol import (
    MAX_MESSAGE,
    VERSION,
    ProtocolError,
    decode,
    encode,
    parse_request,
)
from stax_backend_macos.staxd_paths import DEFAULT_SOCKET  # noqa: F401  (re-exported for the client)

FRAME = struct.Struct(">IB")
JSON, THREAD_MAP, RECORDS = ord("J"), ord("T"), ord("R")
MAX_DATA_FRAME = 16 * 1024 * 1024
"""The largest data frame either side accepts (a drain is at most a few MiB)."""
MAX_PIDS = 64
MAX_FREQUENCY = 10_000
_RECORD_FIELDS = frozenset({"v", "op", "pids", "system_wide", "frequency", "kernel_stacks", "off_cpu",
                            "counters",
                            "follow_children"})


@attrs.frozen(slots=True)
class RecordRequest:
    """``{"v": 1, "op": "record", ...}``: what staxd should trace and stream."""

    pids: tuple[int, ...] = ()
    system_wide: bool = False
    frequency: int = 999
    kernel_stacks: bool = True
    off_cpu: bool = True
    counters: bool = False
    follow_children: bool = False
    """A command: sample every process (kperf filter -1) and keep the ones it forks."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"v": VERSION, "op": "record", "frequency": self.frequency,
                               "kernel_stacks": self.kernel_stacks, "off_cpu": self.off_cpu,
                               "counters": self.counters, "follow_children": self.follow_children}
        if self.system_wide:
            out["system_wide"] = True
        else:
            out["pids"] = list(self.pids)
        return out


def _bool(message: Mapping[str, Any], key: str, default: bool) -> bool:
    value = message.get(key, default)
    if not isinstance(value, bool):
        raise ProtocolError(f"field {key!r} must be true or false.")
    return value


def _int(value: Any, key: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ProtocolError(f"field {key!r} must be an integer between {lo} and {hi}.")
    return value


def _check_version(message: Mapping[str, Any]) -> None:
    """The shared protocol's version check (it runs on a hello made of this message's ``v``)."""
    parse_request({**({"v": message["v"]} if "v" in message else {}), "op": "hello"})


def parse_message(message: Mapping[str, Any]) -> str | RecordRequest:
    """``"hello"``, ``"stop"`` or a :class:`RecordRequest`; ProtocolError says what is wrong."""
    op = message.get("op")
    if op == "record":
        _check_version(message)
        unknown = sorted(set(message) - _RECORD_FIELDS)
        if unknown:
            raise ProtocolError(f"unknown field {unknown[0][:40]!r} in record.")
        system_wide = _bool(message, "system_wide", False)
        raw_pids = message.get("pids", [])
        if not isinstance(raw_pids, list) or len(raw_pids) > MAX_PIDS:
            raise ProtocolError(f"field 'pids' must be a list of at most {MAX_PIDS} process ids.")
        pids = tuple(_int(p, "pids", 1, 99_999) for p in raw_pids)
        if system_wide == bool(pids):
            raise ProtocolError("give a non-empty 'pids' list or 'system_wide': true, not both.")
        frequency = _int(message.get("frequency", 999), "frequency", 1, MAX_FREQUENCY)
        return RecordRequest(pids, system_wide, frequency,
                             _bool(message, "kernel_stacks", True), _bool(message, "off_cpu", True),
                             _bool(message, "counters", False), _bool(message, "follow_children", False))
    if op == "stop":
        _check_version(message)
        if set(message) - {"v", "op"}:
            raise ProtocolError("stop takes no fields.")
        return "stop"
    if op == "hello":
        parse_request(message)  # the shared hello: version, no other fields
        return "hello"
    _check_version(message)
    shown = repr(op[:40]) if isinstance(op, str) else "missing"
    raise ProtocolError(f"unknown op {shown}; staxd-macos understands \"hello\", \"record\" and \"stop\".")


# -- frames ----------------------------------------------------------------------------------------


def send_frame(sock: socket.socket, kind: int, payload: bytes) -> None:
    sock.sendall(FRAME.pack(len(payload), kind) + payload)


def send_json(sock: socket.socket, message: Mapping[str, Any]) -> None:
    send_frame(sock, JSON, encode(message))


def _read_exact(sock: socket.socket, size: int) -> bytes | None:
    parts, need = [], size
    while need:
        chunk = sock.recv(min(need, 1 << 20))
        if not chunk:
            if need == size:
                return None
            raise ProtocolError("the connection closed in the middle of a frame.")
        parts.append(chunk)
        need -= len(chunk)
    return b"".join(parts)


def recv_frame(sock: socket.socket) -> tuple[int, bytes] | None:
    """The next frame, or None when the peer closed between frames."""
    head = _read_exact(sock, FRAME.size)
    if head is None:
        return None
    length, kind = FRAME.unpack(head)
    if kind == JSON and length > MAX_MESSAGE:
        raise ProtocolError(f"message exceeds the {MAX_MESSAGE}-byte limit.")
    if kind not in (JSON, THREAD_MAP, RECORDS):
        raise ProtocolError(f"unknown frame kind {kind}.")
    if length > MAX_DATA_FRAME:
        raise ProtocolError(f"a frame of {length} bytes exceeds the {MAX_DATA_FRAME}-byte limit.")
    payload = _read_exact(sock, length) if length else b""
    if payload is None:
        raise ProtocolError("the connection closed in the middle of a frame.")
    return kind, payload


def recv_json(sock: socket.socket) -> dict[str, Any] | None:
    frame = recv_frame(sock)
    if frame is None:
        return None
    kind, payload = frame
    if kind != JSON:
        raise ProtocolError("expected a JSON message.")
    return decode(payload)
