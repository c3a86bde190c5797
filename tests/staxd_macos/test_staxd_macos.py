"""staxd-macos: its LaunchDaemon plist, the setup plan, the peer check, the policy, and the real daemon
(in this process, as root, replaying a synthesized trace) serving a real client running as uid 65534."""

from __future__ import annotations

import io
import json
import os
import plistlib
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stax.cli.app import run
from stax_backend_macos.record_filter import RecordFilter
from stax_backend_macos.staxd_wire import RecordRequest, parse_message, recv_frame, send_frame
from stax_binfmt.staxd_protocol import ProtocolError
from staxd_macos import broker
from staxd_macos.authorization import Refusal, authorize_record, check_connect
from staxd_macos.daemon import Daemon
from staxd_macos.launchd_plist import LABEL, REQUIRED_KEYS, daemon_plist, plist_bytes
from staxd_macos.peer import Peer, PeerError, parse_audit_token, parse_xucred, peer_from
from staxd_macos.policy import DEFAULT_POLICY_TEXT, parse_policy
from staxd_macos.service_install import Host, plan_install, plan_uninstall
from tests.backend_macos.conftest import ServerBinary
from tests.backend_macos.kdebug_builder import MS, Trace
from tests.backend_macos.replay_source import ReplaySource
from tests.backend_macos.server_trace import LOCK_NS, LOCK_SPANS, MAIN, PID, WORKER, WORKER_HOT, server_trace

NOBODY = 65534
HERE = Path(__file__).resolve().parent


# -- the LaunchDaemon plist ------------------------------------------------------------------------


def test_the_plist_round_trips_and_has_what_launchd_needs() -> None:
    plist = daemon_plist()
    data = plist_bytes(plist)
    assert plistlib.loads(data) == plist  # what plutil -lint checks: it parses, and to the same thing
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC')
    assert set(REQUIRED_KEYS) <= set(plist)
    assert plist["Label"] == LABEL and plist["UserName"] == "root"
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] is True
    argv = plist["ProgramArguments"]
    assert all(isinstance(a, str) for a in argv)
    assert argv[:3] == [sys.executable, "-m", "staxd_macos"]
    assert argv[3:] == ["--socket", "/var/run/stax/staxd.sock", "--policy", "/etc/stax/staxd.toml"]
    help_text = subprocess.run([*argv[:3], "--help"], capture_output=True, text=True, check=True).stdout
    assert "--socket" in help_text and "--policy" in help_text  # the argv launchd runs is a real program


def test_setup_dry_run_for_macos_prints_every_action_and_the_plist(capsys) -> None:
    assert run(["setup", "--dry-run", "--os", "macos"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == ("# the macOS plan, printed on linux (this host's files and groups stand in for the"
                        " Mac's)")
    assert lines[1] == (f"would write /Library/LaunchDaemons/org.stax.staxd.plist (launchd runs"
                        f" {sys.executable} -m staxd_macos as root)")
    printed = "\n".join(line[4:] for line in lines if line.startswith("    "))
    assert plistlib.loads(printed.encode()) == daemon_plist()
    assert "/bin/launchctl bootstrap system /Library/LaunchDaemons/org.stax.staxd.plist" in out
    assert "dseditgroup" in out and out.endswith("(dry run: nothing was changed)\n")
    assert not Path("/Library/LaunchDaemons/org.stax.staxd.plist").exists()


def test_setup_for_macos_without_dry_run_refuses_off_a_mac(capsys) -> None:
    assert run(["setup", "--os", "macos"]) == 1
    assert capsys.readouterr().err == ("stax: stax setup --os macos installs a LaunchDaemon and runs only on"
                                       " a Mac; add --dry-run to print what it would do there.\n")
    assert run(["setup", "--dry-run", "--os", "plan9"]) == 2
    assert "--os 'plan9' is not known; use 'linux' or 'macos'." in capsys.readouterr().err


def test_install_then_uninstall_plans_against_a_temporary_host(tmp_path: Path) -> None:
    host = Host(plist_dir=tmp_path / "LaunchDaemons", policy_path=tmp_path / "etc" / "staxd.toml",
                sudo_user="nobody", check_code=False)
    install = plan_install(host)
    for action in install:  # carry out what writes files; the group and launchctl steps are macOS's
        if action.description.startswith("write "):
            action.run()
    assert plistlib.loads(host.plist_path.read_bytes()) == daemon_plist()
    assert host.policy_path.read_text() == DEFAULT_POLICY_TEXT
    assert parse_policy(DEFAULT_POLICY_TEXT).allowed_groups == ("stax",)  # the shared parser reads it
    steps = [a.description for a in plan_uninstall(host)]
    assert steps[:3] == [f"/bin/launchctl bootout system/{LABEL} (stops staxd)", f"remove {host.plist_path}",
                         f"remove the default policy {host.policy_path}"]
    host.policy_path.write_text(DEFAULT_POLICY_TEXT + "max_frequency = 100\n")
    assert f"keep {host.policy_path}: it was edited (remove it yourself if you want)" in [
        a.description for a in plan_uninstall(host)]


def test_broker_setup_requires_root_on_a_mac(monkeypatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(os, "geteuid", lambda: 501)
    with pytest.raises(Exception, match=r"run it with sudo: sudo stax setup\.$"):
        broker.setup(dry_run=False, uninstall=False, out=io.StringIO())


# -- the peer check --------------------------------------------------------------------------------


def test_audit_token_and_xucred_layouts() -> None:
    # auid, euid, egid, ruid, rgid, pid, asid, pid version
    token = struct.pack("<8I", 501, 502, 20, 501, 20, 4242, 100007, 3)
    assert parse_audit_token(token) == (4242, 502, 20, 3)
    xucred = struct.pack("<IIh2x16I", 0, 502, 3, 20, 12, 61, *([0] * 13))
    assert parse_xucred(xucred) == (502, (20, 12, 61))
    expected = Peer(pid=4242, uid=502, gid=20, groups=frozenset({20, 12, 61}))
    assert peer_from(token, xucred, (502, 20)) == expected
    with pytest.raises(PeerError, match="disagree"):
        peer_from(token, xucred, (0, 0))
    with pytest.raises(PeerError, match="version 1 with 3 groups"):
        parse_xucred(struct.pack("<IIh2x16I", 1, 502, 3, *([0] * 16)))
    with pytest.raises(PeerError, match="17 groups"):
        parse_xucred(struct.pack("<IIh2x16I", 0, 502, 17, *([0] * 16)))
    with pytest.raises(PeerError, match="has 31 bytes"):
        parse_audit_token(token[:31])


def test_policy_decides_who_connects_and_what_they_record() -> None:
    text = 'allowed_users = ["65534"]\nallowed_groups = ["stax"]\nmax_frequency = 500\n'
    policy = parse_policy(text + "allow_kernel_stacks = true\n", "p.toml")
    nobody = Peer(pid=10, uid=NOBODY, gid=NOBODY, groups=frozenset())
    check_connect(nobody, policy)
    root = Peer(pid=1, uid=0, gid=0, groups=frozenset())
    check_connect(root, parse_policy("allowed_groups = []", "q"))  # root always may
    with pytest.raises(Refusal, match=r"^user daemon may not use staxd: join group 'stax' with 'sudo"
                                      r" dseditgroup -o edit -a daemon -t user stax' and log in again\.$"):
        check_connect(Peer(pid=10, uid=1, gid=1, groups=frozenset()), policy)
    owners = {PID: NOBODY, 1: 0}
    authorize_record(nobody, RecordRequest(pids=(PID,), frequency=500), policy, owners.get)
    cases = [
        (RecordRequest(pids=(1,)), "process 1 belongs to root, and staxd's policy (p.toml) lets you record"
                                   " only your own processes."),
        (RecordRequest(pids=(99,)), "no process with pid 99 exists."),
        (RecordRequest(system_wide=True), "staxd's policy (p.toml) does not let you record every process;"
                                          " record your own processes with -p PID or a command."),
        (RecordRequest(pids=(PID,), frequency=999), "999 Hz is above staxd's limit of 500 Hz; record with"
                                                    " -F 500 or less."),
    ]
    for request, sentence in cases:
        with pytest.raises(Refusal) as refused:
            authorize_record(nobody, request, policy, owners.get)
        assert str(refused.value) == sentence
    # Kernel stacks are off by default (kernel addresses would tell every member the KASLR slide).
    with pytest.raises(Refusal, match="does not allow kernel stacks"):
        authorize_record(nobody, RecordRequest(pids=(PID,), frequency=500), parse_policy(text, "p.toml"),
                         owners.get)


def test_record_requests_are_validated_strictly() -> None:
    assert parse_message({"v": 1, "op": "record", "pids": [5], "counters": True}) == RecordRequest(
        pids=(5,), counters=True)
    bad = [
        ({"v": 1, "op": "record", "pids": [5], "frequency": True}, "field 'frequency' must be an integer"),
        ({"v": 1, "op": "record", "pids": [5], "system_wide": True}, "give a non-empty 'pids' list or"),
        ({"v": 1, "op": "record", "pids": []}, "give a non-empty 'pids' list or"),
        ({"v": 1, "op": "record", "pids": [5], "cpus": [0]}, "unknown field 'cpus' in record."),
        ({"v": 2, "op": "record", "pids": [5]}, "protocol version 2 is not supported"),
        ({"op": "record", "pids": [5]}, "field 'v' (the protocol version) is missing."),
        ({"v": 1, "op": "stop", "now": 1}, "stop takes no fields."),
        ({"v": 1, "op": "open", "kind": "sampling"}, "unknown op 'open'; staxd-macos understands \"hello\","
                                                      " \"record\" and \"stop\"."),
        ({"v": 1, "op": "hello", "x": 1}, "unknown field 'x' in hello."),
    ]
    for message, sentence in bad:
        with pytest.raises(ProtocolError) as err:
            parse_message(message)
        assert sentence in str(err.value)


def test_frames_are_bounded() -> None:
    left, right = socket.socketpair()
    with left, right:
        right.sendall(struct.pack(">IB", 64 * 1024 * 1024, ord("R")))
        with pytest.raises(ProtocolError, match="exceeds the 16777216-byte limit"):
            recv_frame(left)
        send_frame(right, ord("X"), b"")
        with pytest.raises(ProtocolError, match="unknown frame kind 88"):
            recv_frame(left)


def test_the_record_filter_keeps_the_granted_processes_and_their_children() -> None:
    t = Trace()
    for tid, pid in ((0x11, 100), (0x21, 200), (0x99, 0)):
        t.thread(tid, pid, f"p{pid}")
    t.sample(1 * MS, 100, 0x11, user=[0x1000])
    t.sample(1 * MS, 200, 0x21, user=[0x2000], cpu=1)  # another process: dropped
    t.switch(2 * MS, 0x99, 0x11)  # traced by a kernel thread, onto ours: kept
    t.switch(2 * MS, 0x99, 0x21, cpu=1)  # onto theirs: dropped
    t.make_runnable(3 * MS, 0x21, 0x11, cpu=1)  # theirs waking ours: kept (the waker's id is the point)
    t.new_thread(4 * MS, 0x11, 0x12, 300)  # ours forks pid 300
    t.sample(5 * MS, 300, 0x12, user=[0x3000])  # the child is followed
    cut, kept_map = RecordFilter.for_map({100}, t.thread_map_bytes())
    kept = cut.filter(t.kd_bufs())
    debugids = [struct.unpack_from("<6QII", kept, i)[6] for i in range(0, len(kept), 64)]
    tids = [struct.unpack_from("<6Q", kept, i)[5] for i in range(0, len(kept), 64)]
    assert set(tids) == {0x11, 0x12, 0x99, 0x21}
    foreign = [d for d, tid in zip(debugids, tids, strict=True) if tid in (0x99, 0x21)]
    assert foreign == [0x01400000, 0x01400018]
    assert tids.count(0x12) > 0 and len(kept_map) == 32 and cut.pids == {100, 300}
    assert cut.dropped == len(t.records) - len(kept) // 64 and cut.dropped > 0


# -- the real daemon and a real unprivileged client ------------------------------------------------


@pytest.fixture
def daemon_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="staxd-macos-"))
    os.chmod(directory, 0o777)
    yield directory
    subprocess.run(["rm", "-rf", str(directory)], check=False)


def start_daemon(directory: Path, policy_text: str, source: ReplaySource) -> Daemon:
    policy = parse_policy(policy_text, str(directory / "staxd.toml"))
    daemon = Daemon(directory / "run" / "staxd.sock", policy, source_factory=lambda request: source,
                    owner_of={PID: NOBODY}.get)
    daemon.bind()
    threading.Thread(target=daemon.serve, daemon=True).start()
    return daemon


def as_nobody(socket_path: Path, output: Path, request: dict) -> dict:
    proc = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", sys.executable,
         str(HERE / "staxd_macos_client.py"), str(socket_path), str(output), json.dumps(request)],
        capture_output=True, text=True, timeout=60, cwd="/",
        env={**os.environ, "PYTHONPATH": str(HERE.parents[1])})
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


POLICY = ('allowed_users = ["65534"]\nallowed_groups = []\nsocket_mode = "0666"\nclient_timeout = 2.0\n'
          'allow_kernel_stacks = true\n')


@pytest.mark.skipif(os.geteuid() != 0, reason="the daemon checks a real uid 65534 peer, set up as root")
def test_a_user_records_through_staxd_and_gets_exact_figures(daemon_dir: Path, server_binary: ServerBinary,
                                                             capsys) -> None:
    source = ReplaySource(server_trace(server_binary))
    daemon = start_daemon(daemon_dir, POLICY, source)
    try:
        rec = daemon_dir / "nobody.stax"
        result = as_nobody(daemon.socket_path, rec, {"pids": [PID]})
        assert result["samples"] == 450 and source.started and source.stopped
        assert os.stat(rec).st_uid == NOBODY
        assert run(["threads", str(rec), "--json"]) == 0
        rows = {t["tid"]: t for t in json.loads(capsys.readouterr().out)["threads"]}
        assert rows[WORKER]["blocked"] == {"lock": LOCK_SPANS * LOCK_NS}
        assert rows[WORKER]["on_cpu_ns"] == WORKER_HOT * MS
        assert [(w["tid"], w["count"]) for w in rows[WORKER]["wakers"]] == [(MAIN, LOCK_SPANS)]
    finally:
        daemon.stopping.set()


@pytest.mark.skipif(os.geteuid() != 0, reason="the daemon checks a real uid 65534 peer, set up as root")
def test_refusals_reach_the_user_as_one_sentence(daemon_dir: Path, server_binary: ServerBinary) -> None:
    source = ReplaySource(server_trace(server_binary))
    daemon = start_daemon(daemon_dir, POLICY.replace('["65534"]', "[]").replace("[]\nsocket",
                                                                             '["stax"]\nsocket'), source)
    try:
        result = as_nobody(daemon.socket_path, daemon_dir / "x.stax", {"pids": [PID]})
        assert result == {"error": "staxd refused: user nobody may not use staxd: join group 'stax' with"
                                   " 'sudo dseditgroup -o edit -a nobody -t user stax' and log in again."}
        assert not source.started
    finally:
        daemon.stopping.set()
    daemon_dir2 = daemon_dir / "second"
    daemon_dir2.mkdir(mode=0o777)
    os.chmod(daemon_dir2, 0o777)
    daemon = start_daemon(daemon_dir2, POLICY, source)
    try:
        result = as_nobody(daemon.socket_path, daemon_dir / "y.stax", {"pids": [1]})
        assert result == {"error": "staxd refused: no process with pid 1 exists."}
        result = as_nobody(daemon.socket_path, daemon_dir / "z.stax", {"system_wide": True})
        assert re.fullmatch(r"staxd refused: staxd's policy \(.*\) does not let you record every process;"
                            r" record your own processes with -p PID or a command\.", result["error"])
        assert not source.started
    finally:
        daemon.stopping.set()
