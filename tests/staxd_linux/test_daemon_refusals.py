"""Every refusal is one sentence with the reason, is logged, and leaves the daemon serving."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stax_backend_linux.staxd_client.client import StaxdClient
from tests.readiness import wait_for_exec
from tests.staxd_linux.conftest import HERE, NOBODY, USERS_GID, StaxdProcess, as_nobody


def _spawn_nobody_sleeper() -> subprocess.Popen:
    return subprocess.Popen(["setpriv", f"--reuid={NOBODY}", "--regid=65534", "--clear-groups",
                             "sleep", "30"])


def test_another_users_process_is_refused(staxd: StaxdProcess) -> None:
    out = as_nobody("request", staxd.socket, '{"kind": "sampling", "pids": [1]}')
    assert out == {"ok": False, "type": "StaxdRefused",
                   "error": "staxd refused: Process 1 belongs to uid 0 (root), not to you; staxd lets you "
                            "profile only your own processes."}
    assert "refuse uid=65534(nobody) gid=65534" in staxd.log()
    assert "kind=sampling pids=1 cpus=all" in staxd.log()
    assert as_nobody("hello", staxd.socket)["ok"]


def test_system_wide_refused_by_default_policy(staxd: StaxdProcess) -> None:
    out = as_nobody("request", staxd.socket, '{"kind": "sampling", "system_wide": true}')
    assert out["ok"] is False
    assert out["error"] == (f"staxd refused: System-wide recording is not allowed by staxd's policy "
                            f"(allow_system_wide = false in {staxd.policy}).")
    assert as_nobody("hello", staxd.socket)["ok"]


def test_client_outside_the_allowed_group_is_refused(staxd: StaxdProcess) -> None:
    out = as_nobody("hello", staxd.socket, gid=USERS_GID)
    assert out == {"ok": False, "type": "StaxdRefused",
                   "error": "staxd refused: User nobody may not use staxd: join group 'nogroup' with "
                            "'sudo usermod -aG nogroup nobody' and log in again."}
    assert f"refuse uid={NOBODY}(nobody) gid={USERS_GID}" in staxd.log()
    assert as_nobody("hello", staxd.socket)["ok"]


def test_setuid_style_and_missing_targets_are_refused(staxd: StaxdProcess) -> None:
    sleeper = _spawn_nobody_sleeper()
    try:
        wait_for_exec(sleeper.pid, shutil.which("sleep") or "/bin/sleep")  # setpriv has become nobody's sleep
        # nobody's own process is fine...
        request = json.dumps({"kind": "context_switch", "pids": [sleeper.pid]})
        out = as_nobody("request", staxd.socket, request)
        assert out == {"ok": True, "fds": len(os.sched_getaffinity(0))}
    finally:
        sleeper.kill()
        sleeper.wait()
    # ...and once it is gone, the pid is refused as missing.
    out = as_nobody("request", staxd.socket, json.dumps({"kind": "sampling", "pids": [sleeper.pid]}))
    assert out["error"] == f"staxd refused: Process {sleeper.pid} does not exist."


@pytest.mark.parametrize(("payload", "sentence"), [
    ("not json", "Malformed request: message is not valid JSON (Expecting value)."),
    ("[1, 2]", "Malformed request: message must be a JSON object."),
    ('{"op": "hello"}', "Malformed request: field 'v' (the protocol version) is missing."),
    ('{"v": 2, "op": "hello"}',
     "Malformed request: protocol version 2 is not supported; this staxd speaks version 1."),
    ('{"v": 1, "op": "open", "kind": "sampling", "pids": [1], "attr": {"type": 4}}',
     "Malformed request: unknown field 'attr' in open."),
    ('{"v": 1, "op": "open", "kind": "counters", "pids": [1], "frequency": 99}',
     "Malformed request: field 'frequency' does not apply to kind 'counters'."),
    ('{"v": 1, "op": "open", "kind": "sampling", "pids": [1], "frequency": true}',
     "Malformed request: field 'frequency' must be an integer."),
    ('{"v": 1, "op": "open", "kind": "sampling", "pids": [0]}',
     "Malformed request: field 'pids' must be between 1 and 4194304, not 0."),
    ('{"v": 1, "op": "open", "kind": "sampling", "pids": [1], "system_wide": true}',
     "Malformed request: give either 'pids' or 'system_wide', not both."),
    ('{"v": 1, "op": "open", "kind": "raw_pmu", "pids": [1]}',
     "Malformed request: field 'kind' must be one of sampling, context_switch, sched_waking, counters."),
    ('{"v": 1, "op": "hello", "v": 1}', "Malformed request: field 'v' appears twice."),
    ('{"v": 1, "op": "open", "kind": "sampling", "pids": [1], "frequency": NaN}',
     "Malformed request: NaN is not allowed in staxd messages."),
])
def test_malformed_requests_get_one_sentence(staxd: StaxdProcess, payload: str, sentence: str) -> None:
    reply = as_nobody("raw", staxd.socket, payload)
    assert reply == {"v": 1, "ok": False, "error": sentence}
    assert staxd.alive()


def test_oversized_message_and_passed_fds_are_refused(staxd: StaxdProcess) -> None:
    before = staxd.idle_fd_count()
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
        sock.settimeout(5)
        sock.connect(str(staxd.socket))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        sock.send(b"{" + b" " * (70 * 1024) + b"}")
        assert json.loads(sock.recv(65536))["error"] == ("Malformed request: message exceeds the 65536-byte "
                                                         "limit.")
        r, w = os.pipe()
        try:
            socket.send_fds(sock, [b'{"v": 1, "op": "hello"}'], [r, w, r])
            assert json.loads(sock.recv(65536))["error"] == ("Malformed request: clients must not send file "
                                                             "descriptors to staxd.")
        finally:
            os.close(r)
            os.close(w)
        sock.send(b'{"v": 1, "op": "hello"}')  # the same connection still works
        assert json.loads(sock.recv(65536))["ok"] is True
    assert staxd.settled_fd_count(before) == before  # the three passed fds were closed


def test_silent_client_is_dropped_after_the_timeout(staxd: StaxdProcess) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
        sock.settimeout(15)
        sock.connect(str(staxd.socket))
        started = time.monotonic()
        assert sock.recv(100) == b""  # the daemon hangs up on us (idle_timeout, 5 s by default)
        assert 1.5 <= time.monotonic() - started < 8
    with StaxdClient(staxd.socket) as client:
        assert client.hello()["ok"]


def test_absent_daemon_is_one_sentence(tmp_path: Path) -> None:
    missing = tmp_path / "x"
    script = ("from stax_backend_linux.staxd_client.client import StaxdClient\n"
              "from stax.errors import CaptureError\n"
              f"try:\n    StaxdClient({str(missing)!r}).hello()\n"
              "except CaptureError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=HERE)
    assert proc.stdout.strip() == (f"staxd is not running (no daemon listens on {missing}); install and "
                                   f"start it with 'sudo stax setup'.")


def test_outside_client_never_reaches_the_parser(staxd: StaxdProcess) -> None:
    reply = as_nobody("raw", staxd.socket, "not even json", gid=USERS_GID)
    assert reply == {"v": 1, "ok": False, "error": "User nobody may not use staxd: join group 'nogroup' with "
                                                   "'sudo usermod -aG nogroup nobody' and log in again."}
