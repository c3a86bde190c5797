"""Fuzzing the protocol: 10,000 cases against the parser, 1,500 against a live daemon, 1,000 clients in a row.

Whatever a client sends, the parser answers with a request or one ProtocolError
sentence (never another exception), and the daemon answers with a JSON reply and
keeps serving with exactly the file descriptors it had before.
"""

from __future__ import annotations

import json
import os
import socket

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stax_backend_linux.staxd_client.client import StaxdClient
from stax_binfmt.staxd_protocol import (
    KINDS,
    MAX_MESSAGE,
    Hello,
    OpenRequest,
    ProtocolError,
    decode,
    parse_request,
)
from tests.staxd_linux.conftest import StaxdProcess


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=8,
)
wild_ints = st.integers(min_value=-5, max_value=2**23) | st.sampled_from([2**31, 2**63, 2**64, -(2**63)])
field_values = st.one_of(
    wild_ints, st.booleans(), st.none(), st.text(max_size=8), st.floats(allow_nan=False),
    st.lists(wild_ints, max_size=6), st.sampled_from(list(KINDS) + ["fp", "dwarf", "disabled", "on_exec"]),
)
near_valid = st.fixed_dictionaries(
    {"v": st.sampled_from([1, 1, 1, 2, 0, True, "1"]), "op": st.sampled_from(["open", "open", "hello", "x"]),
     "kind": st.sampled_from(list(KINDS) + ["bogus", 3])},
    optional={name: field_values for name in
              ("pids", "system_wide", "cpus", "frequency", "kernel_stacks", "call_graph", "dwarf_stack_size",
               "start", "wakeup_bytes", "attr", "config", "type")},
)


def _parse(data: bytes) -> object:
    try:
        return parse_request(decode(data))
    except ProtocolError as exc:
        sentence = str(exc)
        assert sentence and sentence.endswith(".") and "\n" not in sentence
        return exc


def _check_parsed(result: object) -> None:
    if isinstance(result, OpenRequest):
        assert result.kind in KINDS
        assert bool(result.pids) != result.system_wide
        assert all(1 <= p <= 2**22 for p in result.pids) and len(set(result.pids)) == len(result.pids)
        # A valid request survives the client's own encoding unchanged.
        assert parse_request(decode(json.dumps(result.to_json()).encode())) == result


@fuzz(4000)
@given(st.binary(max_size=300))
def test_parser_survives_random_bytes(data: bytes) -> None:
    _check_parsed(_parse(data))


@fuzz(3000)
@given(json_values)
def test_parser_survives_random_json(value: object) -> None:
    _check_parsed(_parse(json.dumps(value).encode()))


@fuzz(3000)
@given(near_valid)
def test_parser_survives_near_valid_requests(message: dict) -> None:
    result = _parse(json.dumps(message).encode())
    _check_parsed(result)
    if not isinstance(result, ProtocolError):
        assert isinstance(result, Hello | OpenRequest)


def _send_raw(path: str, data: bytes) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
        sock.settimeout(10)
        sock.connect(path)
        sock.send(data)
        reply, fds, _flags, _ = socket.recv_fds(sock, MAX_MESSAGE, 256)
        for fd in fds:  # a valid request from root may really be granted
            os.close(fd)
        return json.loads(reply)


def test_live_daemon_survives_fuzzing_and_keeps_its_fds(staxd: StaxdProcess) -> None:
    path = str(staxd.socket)
    _send_raw(path, b'{"v": 1, "op": "hello"}')  # warm up (lazy imports, first thread)
    before = staxd.idle_fd_count()
    counts = {"bytes": 0, "json": 0, "near_valid": 0, "granted": 0}

    @fuzz(500)
    @given(st.binary(min_size=1, max_size=400))
    def send_bytes(data: bytes) -> None:
        reply = _send_raw(path, data)
        assert reply["v"] == 1 and reply["ok"] is False and isinstance(reply["error"], str)
        counts["bytes"] += 1

    @fuzz(500)
    @given(json_values)
    def send_json(value: object) -> None:
        data = json.dumps(value).encode()
        if not data.strip(b" "):
            return
        reply = _send_raw(path, data)
        assert reply["v"] == 1 and reply["ok"] in (True, False)
        counts["json"] += 1

    @fuzz(500)
    @given(near_valid)
    def send_near_valid(message: dict) -> None:
        reply = _send_raw(path, json.dumps(message).encode())
        assert reply["v"] == 1 and reply["ok"] in (True, False)
        counts["granted"] += reply["ok"] is True and reply.get("op") == "open"
        counts["near_valid"] += 1

    send_bytes()
    send_json()
    send_near_valid()
    print(f"live fuzz cases: {counts}")
    assert counts["bytes"] + counts["json"] + counts["near_valid"] >= 1400, counts
    assert staxd.alive()
    assert staxd.settled_fd_count(before) == before, staxd.log()[-2000:]


def test_thousand_sequential_clients(staxd: StaxdProcess) -> None:
    with StaxdClient(staxd.socket) as client:
        assert client.hello()["ok"]
    before = staxd.idle_fd_count()
    grants = 0
    for i in range(1000):
        with StaxdClient(staxd.socket) as client:
            reply = client.hello()
            assert reply["ok"] and reply["peer"]["pid"] == os.getpid(), (i, reply)
            if i % 10 == 0:  # every tenth client is also granted events, which the daemon must let go of
                granted = client.open_events(OpenRequest(kind="sampling", pids=(os.getpid(),)))
                assert len(granted) == len(reply["cpus"])
                for fd, _ in granted:
                    os.close(fd)
                grants += 1
    assert grants == 100
    assert staxd.alive()
    assert staxd.settled_fd_count(before) == before
