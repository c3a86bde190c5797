"""staxd's wire protocol, version 1: JSON messages on a Unix SOCK_SEQPACKET socket.

Why SEQPACKET: the kernel keeps message boundaries, so there is no framing to get
wrong, and SCM_RIGHTS file descriptors travel with the message they belong to.
Every message is one UTF-8 JSON object of at most :data:`MAX_MESSAGE` bytes.

A client asks for a *named* event set (``kind``), never a raw perf_event_attr: the
daemon builds the attrs itself (:mod:`.perf_event_sets`, as the client would), so the
policy decides exactly what a request can reach.  This module is shared by the daemon
(staxd-linux) and the client (stax-backend-linux), so it lives in the leaf library both
depend on: the root daemon imports no part of the capture backend.  It parses and validates
requests strictly (unknown fields, wrong types and out-of-range values
are rejected with one sentence) and never raises anything but
:class:`ProtocolError` on untrusted bytes.  docs/staxd.md is the reference.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from stax_binfmt.perf_dwarf_callgraph import MAX_STACK_SIZE, MIN_STACK_SIZE

SOCKET_ENV = "STAXD_SOCKET"
DEFAULT_SOCKET = Path("/run/staxd/staxd.sock")  # in the unit's RuntimeDirectory (docs/staxd.md)

VERSION = 1
MAX_MESSAGE = 64 * 1024
MAX_PIDS = 64
MAX_CPUS = 4096
MAX_FREQUENCY = 1_000_000
MAX_WAKEUP_BYTES = 64 * 1024 * 1024
DWARF_STACK_MIN = MIN_STACK_SIZE
DWARF_STACK_MAX = MAX_STACK_SIZE
FDS_PER_MESSAGE = 100
"""Descriptions per grant message: keeps the JSON well under MAX_MESSAGE and the fds under SCM_MAX_FD."""

KINDS = ("sampling", "context_switch", "sched_waking", "counters")
STARTS = ("disabled", "enabled", "on_exec")
CALL_GRAPHS = ("fp", "hybrid", "dwarf")
"""On the wire ``fp`` is the kernel's frame-pointer walk alone (``stax record --call-graph fp-only``),
``hybrid`` adds ip/sp/bp and a small stack copy (``--call-graph fp``, the default) and ``dwarf``
the full register set and copy without the user fp walk; ``dwarf_stack_size`` is the copy's size
for the last two."""
DUMP_CALL_GRAPHS = ("hybrid", "dwarf")

# Which optional fields each kind accepts (besides v, op, kind, pids, system_wide, cpus, start).
_KIND_FIELDS: dict[str, frozenset[str]] = {
    "sampling": frozenset({"frequency", "kernel_stacks", "call_graph", "dwarf_stack_size", "wakeup_bytes",
                           "identifier"}),
    "context_switch": frozenset({"kernel_stacks", "call_graph", "dwarf_stack_size", "wakeup_bytes"}),
    "sched_waking": frozenset({"kernel_stacks", "wakeup_bytes"}),
    "counters": frozenset({"identifier"}),
}
_COMMON_OPEN_FIELDS = frozenset({"v", "op", "kind", "pids", "system_wide", "cpus", "start"})


def default_socket_path() -> Path:
    """``$STAXD_SOCKET`` if set (tests, unusual installs), else /run/staxd/staxd.sock."""
    return Path(os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET)


class ProtocolError(ValueError):
    """A message that is not valid protocol; ``str()`` is the one sentence sent back."""


@attrs.frozen(slots=True)
class Hello:
    """``{"v": 1, "op": "hello"}``: who am I to the daemon, and what may I ask for."""


@attrs.frozen(slots=True)
class OpenRequest:
    """``{"v": 1, "op": "open", ...}``: open one named event set for ``pids`` or every CPU.

    ``cpus`` empty means every online CPU.  ``start`` says how the events begin:
    ``disabled`` (the client enables them with PERF_EVENT_IOC_ENABLE once its rings
    are mapped), ``enabled``, or ``on_exec`` (for a command held before exec).
    ``wakeup_bytes`` 0 lets the kernel wake poll() at half the ring.  ``identifier``
    (sampling, counters) adds PERF_SAMPLE_IDENTIFIER, for a ring shared with the
    off-CPU events (which always carry it); for counters it fixes the sample_id
    trailer of their PERF_RECORD_READ records in that ring.
    """

    kind: str
    pids: tuple[int, ...] = ()
    system_wide: bool = False
    cpus: tuple[int, ...] = ()
    frequency: int = 999
    kernel_stacks: bool = True
    call_graph: str = "fp"
    dwarf_stack_size: int = 8192
    start: str = "disabled"
    wakeup_bytes: int = 0
    identifier: bool = False

    def to_json(self) -> dict[str, Any]:
        """The request as the client sends it (only the fields that apply to ``kind``)."""
        out: dict[str, Any] = {"v": VERSION, "op": "open", "kind": self.kind, "start": self.start}
        if self.system_wide:
            out["system_wide"] = True
        else:
            out["pids"] = list(self.pids)
        if self.cpus:
            out["cpus"] = list(self.cpus)
        allowed = _KIND_FIELDS.get(self.kind, frozenset())
        for name in ("frequency", "kernel_stacks", "call_graph", "wakeup_bytes", "identifier"):
            if name in allowed:
                out[name] = getattr(self, name)
        if "dwarf_stack_size" in allowed and self.call_graph in DUMP_CALL_GRAPHS:
            out["dwarf_stack_size"] = self.dwarf_stack_size
        return out

    def summary(self) -> str:
        """A short one-line summary for the daemon's log."""
        target = "system-wide" if self.system_wide else "pids=" + ",".join(map(str, self.pids))
        cpus = ",".join(map(str, self.cpus)) if self.cpus else "all"
        extra = ""
        if self.kind in ("sampling", "context_switch", "sched_waking"):
            extra = f" kernel_stacks={'yes' if self.kernel_stacks else 'no'}"
        if self.kind == "sampling":
            extra += f" frequency={self.frequency}"
        if self.kind in ("sampling", "context_switch"):
            extra += f" call_graph={self.call_graph}"
        return f"kind={self.kind} {target} cpus={cpus}{extra} start={self.start}"


Request = Hello | OpenRequest


@attrs.frozen(slots=True)
class FdDescription:
    """What one granted fd is, sent beside it so the client can map and decode it.

    ``pid`` is the process asked for (-1 system-wide), ``tid`` the thread the event
    is attached to (-1 for every task on ``cpu``), ``cpu`` -1 for any CPU.
    ``group`` is the ``index`` of the group leader (its own index for a leader) for
    counter groups, else None.  ``sample_type``/``read_format``/``sample_regs_user``/
    ``sample_stack_user`` are the attr fields that fix the record layouts; ``kernel``
    says whether kernel mode is measured (kernel samples, kernel call chains);
    ``raw_fields`` (sched_waking only) gives each tracepoint field's offset, size and
    signedness inside PERF_SAMPLE_RAW data, from the tracepoint's format file.
    """

    index: int
    kind: str
    event: str
    pid: int
    tid: int
    cpu: int
    event_id: int
    sample_type: int = 0
    read_format: int = 0
    sample_regs_user: int = 0
    sample_stack_user: int = 0
    kernel: bool = False
    group: int | None = None
    raw_fields: Mapping[str, tuple[int, int, bool]] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = attrs.asdict(self, recurse=False)
        out["raw_fields"] = {k: list(v) for k, v in self.raw_fields.items()}
        return out

    @classmethod
    def from_json(cls, data: Any) -> FdDescription:
        """Parse a description from a grant (the client trusts the daemon, but checks the shape)."""
        if not isinstance(data, dict):
            raise ProtocolError("staxd sent an fd description that is not an object.")
        try:
            raw = {str(k): (int(v[0]), int(v[1]), bool(v[2])) for k, v in data.get("raw_fields", {}).items()}
            group = data.get("group")
            return cls(
                index=int(data["index"]), kind=str(data["kind"]), event=str(data["event"]),
                pid=int(data["pid"]), tid=int(data["tid"]), cpu=int(data["cpu"]),
                event_id=int(data["event_id"]), sample_type=int(data.get("sample_type", 0)),
                read_format=int(data.get("read_format", 0)),
                sample_regs_user=int(data.get("sample_regs_user", 0)),
                sample_stack_user=int(data.get("sample_stack_user", 0)),
                kernel=bool(data.get("kernel", False)),
                group=None if group is None else int(group), raw_fields=raw,
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ProtocolError(f"staxd sent a malformed fd description ({exc}).") from None


Granted = list[tuple[int, FdDescription]]
"""The fds of one grant with their descriptions, as the daemon sends them and the client gets them."""


def close_granted(granted: Granted) -> None:
    """Close every fd of a grant (a refusal half-way, or a grant the client cannot use)."""
    for fd, _ in granted:
        try:
            os.close(fd)
        except OSError:
            pass


# -- encoding --------------------------------------------------------------------------------------


def encode(message: Mapping[str, Any]) -> bytes:
    """One message as compact UTF-8 JSON; refuses to build one the peer would reject as too long."""
    data = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
    if len(data) > MAX_MESSAGE:
        raise ProtocolError(f"message of {len(data)} bytes exceeds the {MAX_MESSAGE}-byte limit.")
    return data


def error_reply(sentence: str) -> dict[str, Any]:
    return {"v": VERSION, "ok": False, "error": sentence}


def _reject_constant(name: str) -> Any:
    raise ProtocolError(f"{name} is not allowed in staxd messages.")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ProtocolError(f"field {key!r} appears twice.")
        out[key] = value
    return out


def decode(data: bytes) -> dict[str, Any]:
    """Parse one message into a JSON object, or raise ProtocolError (never anything else)."""
    if len(data) > MAX_MESSAGE:
        raise ProtocolError(f"message exceeds the {MAX_MESSAGE}-byte limit.")
    try:
        text = data.decode("utf-8")
        value = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except ProtocolError:
        raise
    except UnicodeDecodeError:
        raise ProtocolError("message is not UTF-8.") from None
    except RecursionError:
        raise ProtocolError("message is nested too deeply.") from None
    except ValueError as exc:
        raise ProtocolError(f"message is not valid JSON ({str(exc).split(':')[0]}).") from None
    if not isinstance(value, dict):
        raise ProtocolError("message must be a JSON object.")
    return value


# -- validation ------------------------------------------------------------------------------------


def _int(value: Any, name: str, lo: int, hi: int) -> int:
    # bool is an int subclass in Python; JSON true must not pass as 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"field {name!r} must be an integer.")
    if not lo <= value <= hi:
        raise ProtocolError(f"field {name!r} must be between {lo} and {hi}, not {value}.")
    return value


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError(f"field {name!r} must be true or false.")
    return value


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ProtocolError(f"field {name!r} must be one of {', '.join(choices)}.")
    return value


def _int_list(value: Any, name: str, lo: int, hi: int, max_len: int) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise ProtocolError(f"field {name!r} must be a list of integers.")
    if len(value) > max_len:
        raise ProtocolError(f"field {name!r} may hold at most {max_len} entries.")
    items = tuple(_int(v, name, lo, hi) for v in value)
    if len(set(items)) != len(items):
        raise ProtocolError(f"field {name!r} lists a value twice.")
    return items


def _version(message: Mapping[str, Any]) -> None:
    if "v" not in message:
        raise ProtocolError("field 'v' (the protocol version) is missing.")
    v = message["v"]
    if isinstance(v, bool) or not isinstance(v, int) or v != VERSION:
        shown = v if isinstance(v, int) and not isinstance(v, bool) and abs(v) < 10**6 else "given"
        raise ProtocolError(f"protocol version {shown} is not supported; this staxd speaks version "
                            f"{VERSION}.")


def parse_request(message: Mapping[str, Any]) -> Request:
    """Validate a decoded message as a request; ProtocolError says what is wrong in one sentence."""
    _version(message)
    op = message.get("op")
    if op == "hello":
        unknown = sorted(set(message) - {"v", "op"})
        if unknown:
            raise ProtocolError(f"unknown field {unknown[0][:40]!r} in hello.")
        return Hello()
    if op == "open":
        return _parse_open(message)
    if not isinstance(op, str):
        raise ProtocolError("field 'op' must be \"hello\" or \"open\".")
    raise ProtocolError(f"unknown op {op[:40]!r}; expected \"hello\" or \"open\".")


def _parse_open(m: Mapping[str, Any]) -> OpenRequest:
    kind = _choice(m.get("kind"), "kind", KINDS)
    allowed = _COMMON_OPEN_FIELDS | _KIND_FIELDS[kind]
    for key in m:
        if key not in allowed:
            known = key in _COMMON_OPEN_FIELDS or any(key in f for f in _KIND_FIELDS.values())
            if known:
                raise ProtocolError(f"field {key!r} does not apply to kind {kind!r}.")
            raise ProtocolError(f"unknown field {key[:40]!r} in open.")
    system_wide = _bool(m["system_wide"], "system_wide") if "system_wide" in m else False
    pids: tuple[int, ...] = ()
    if "pids" in m:
        pids = _int_list(m["pids"], "pids", 1, 2**22, MAX_PIDS)
    if system_wide and pids:
        raise ProtocolError("give either 'pids' or 'system_wide', not both.")
    if not system_wide and not pids:
        raise ProtocolError("give a non-empty 'pids' list or 'system_wide': true.")
    cpus = _int_list(m["cpus"], "cpus", 0, MAX_CPUS - 1, MAX_CPUS) if "cpus" in m else ()
    if "cpus" in m and not cpus:
        raise ProtocolError("field 'cpus' must not be empty (leave it out for every CPU).")
    start = _choice(m.get("start", "disabled"), "start", STARTS)
    if start == "on_exec" and system_wide:
        raise ProtocolError("start 'on_exec' needs 'pids' (a command held before exec), not system_wide.")
    call_graph = _choice(m.get("call_graph", "fp"), "call_graph", CALL_GRAPHS)
    if "dwarf_stack_size" in m and call_graph not in DUMP_CALL_GRAPHS:
        raise ProtocolError("field 'dwarf_stack_size' needs call_graph \"dwarf\" or \"hybrid\".")
    stack = _int(m.get("dwarf_stack_size", 8192), "dwarf_stack_size", DWARF_STACK_MIN, DWARF_STACK_MAX)
    if stack % 8:
        raise ProtocolError("field 'dwarf_stack_size' must be a multiple of 8.")
    return OpenRequest(
        kind=kind, pids=pids, system_wide=system_wide, cpus=cpus,
        frequency=_int(m.get("frequency", 999), "frequency", 1, MAX_FREQUENCY),
        kernel_stacks=_bool(m.get("kernel_stacks", True), "kernel_stacks"),
        call_graph=call_graph, dwarf_stack_size=stack, start=start,
        wakeup_bytes=_int(m.get("wakeup_bytes", 0), "wakeup_bytes", 0, MAX_WAKEUP_BYTES),
        identifier=_bool(m.get("identifier", False), "identifier"),
    )

