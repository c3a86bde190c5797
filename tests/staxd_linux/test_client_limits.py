"""One member cannot lock the others out: per-user connection and fd limits, idle timeouts, and
the retry sentence (never a reset, never a false "join group") when staxd is at a limit.

Each test runs its own staxd (the limits are per daemon).  Member A is uid 65534, crowding
the daemon through crowd_client.py; member B is uid 65533, in the allowed group too.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stax_binfmt.procfs import online_cpus
from tests.staxd_linux.conftest import HERE, NOBODY, NOGROUP, TEST_POLICY, StaxdProcess, as_nobody

OTHER_MEMBER = 65533
PER_USER = ("You have 4 connections to staxd open already, the most its policy allows one user "
            "(max_clients_per_user in {policy}); close one or try again in a moment.")
SHORT_OF_FDS = "staxd refused: staxd is short of file descriptors right now; try again in a moment."
SLOW_READER_POLICY = TEST_POLICY.replace("client_timeout = 2.0", "client_timeout = 30.0")
THREADS = 500
GRANT = (THREADS + 1) * len(online_cpus())
"""fds of one of A's requests: sampling, one per thread (its 500 and the main one) and CPU"""

pytestmark = pytest.mark.skipif(shutil.which("setpriv") is None or shutil.which("prlimit") is None,
                                reason="needs setpriv and prlimit")


@pytest.fixture
def make_daemon() -> Iterator[Callable[[str], StaxdProcess]]:
    made: list[tuple[StaxdProcess, Path]] = []

    def make(policy: str) -> StaxdProcess:
        directory = Path(tempfile.mkdtemp(prefix="staxd-limits-"))
        directory.chmod(0o755)
        made.append((StaxdProcess(directory, policy), directory))
        return made[-1][0]

    yield make
    for daemon, directory in made:
        daemon.stop()
        assert "internal error" not in daemon.log()
        shutil.rmtree(directory, ignore_errors=True)


class Crowd:
    """crowd_client.py running as member A: one JSON line out per step, commands in."""

    def __init__(self, daemon: StaxdProcess, *args: str) -> None:
        env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "PYTHONPATH": str(HERE)}
        self.proc = subprocess.Popen(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOGROUP}", "--clear-groups", sys.executable,
             str(HERE / "crowd_client.py"), args[0], str(daemon.socket), *args[1:]],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def read(self) -> dict:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"crowd_client.py exited ({self.proc.wait()})"
        return json.loads(line)

    def ask(self, command: str) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read()

    def __enter__(self) -> Crowd:
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(30)
        self.proc.stdout.close()


def _set_fd_limit(pid: int, soft: int) -> None:
    """Set the daemon's soft RLIMIT_NOFILE (its hard limit stays: raising it back needs CAP_SYS_RESOURCE)."""
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={soft}:"], check=True)


def _steady_fd_count(daemon: StaxdProcess) -> int:
    """The daemon's fd count once it has stopped changing (its senders are blocked)."""
    count, steady_since = daemon.fd_count(), time.monotonic()
    while time.monotonic() - steady_since < 0.5:
        time.sleep(0.05)
        now = daemon.fd_count()
        if now != count:
            count, steady_since = now, time.monotonic()
    return count


def test_one_member_cannot_take_every_connection(make_daemon: Callable[[str], StaxdProcess]) -> None:
    """Before: member A's idle connections took all 8 slots and B's request failed with 'staxd closed
    the connection (Broken pipe)'.  Now A gets 4 and the retry sentence for the rest (also when it
    sends first), B is served, and A's silent connections are closed after idle_timeout (5 s by
    default)."""
    daemon = make_daemon(TEST_POLICY + "max_clients = 8\n")
    baseline = daemon.idle_fd_count()
    with Crowd(daemon, "hold", "10", "6") as member_a:
        held = member_a.read()
        crowded_at = time.monotonic()
        assert held == {"open": 4, "replies": [PER_USER.format(policy=daemon.policy)] * 6}
        # a client that sends its request before reading gets the sentence too, not EPIPE or a reset
        refused = "staxd refused: " + PER_USER.format(policy=daemon.policy)
        assert as_nobody("hello", daemon.socket) == {"ok": False, "type": "StaxdRefused", "error": refused}
        out = as_nobody("sample", daemon.socket, uid=OTHER_MEMBER)
        assert time.monotonic() - crowded_at < 10
        assert out["staxd"]["samples"] >= 50, out  # a working grant: B's child, sampled at 499 Hz for 0.6 s
        assert {d["pid"] for d in out["granted"]} == {out["child"]}
        while (closed := member_a.ask("check")["closed"]) < 4:
            assert time.monotonic() - crowded_at < 15, closed
            time.sleep(0.25)
        assert time.monotonic() - crowded_at >= 4  # idle_timeout 5 s, counted from each connect
    assert as_nobody("hello", daemon.socket)["ok"]  # A's slots are free again
    assert daemon.settled_fd_count(baseline) == baseline
    assert "max_clients_per_user" in daemon.log()


def test_unread_grants_give_the_retry_sentence_not_join_group(
        make_daemon: Callable[[str], StaxdProcess]) -> None:
    """Member A asks for two grants of 1002 fds and does not read them; the daemon is then held to
    one fd more than it has open.  Before: B was told to 'join group nogroup' (a group lookup that
    failed with EMFILE read as 'not a member').  Now B gets the retry sentence; once A reads, B is served."""
    daemon = make_daemon(SLOW_READER_POLICY)
    with Crowd(daemon, "unread", "2", str(THREADS)) as member_a:
        assert member_a.read()["sent"] == 2
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        _set_fd_limit(daemon.pid, _steady_fd_count(daemon) + 1)
        try:
            out = as_nobody("hello", daemon.socket, uid=OTHER_MEMBER)
        finally:
            _set_fd_limit(daemon.pid, limit)
        assert out == {"ok": False, "type": "StaxdRefused", "error": SHORT_OF_FDS}
        assert member_a.ask("read") == {"replies": [GRANT, GRANT]}  # A's grants were whole all along
    out = as_nobody("sample", daemon.socket, uid=OTHER_MEMBER)
    assert out["staxd"]["samples"] >= 50, out


def test_one_member_cannot_hold_every_fd(make_daemon: Callable[[str], StaxdProcess]) -> None:
    """max_fds_per_user: the fds of a grant count against its user until its client has read them."""
    budget = GRANT * 3 // 2  # room for one of A's grants, not two
    daemon = make_daemon(SLOW_READER_POLICY + f"max_fds_per_user = {budget}\n")
    with Crowd(daemon, "unread", "2", str(THREADS)) as member_a:
        assert member_a.read()["sent"] == 2
        started = time.monotonic()
        out = as_nobody("sample", daemon.socket, uid=OTHER_MEMBER)  # B is not held up by A
        assert time.monotonic() - started < 10
        assert out["staxd"]["samples"] >= 50, out
        assert member_a.ask("read") == {"replies": [GRANT, (
            f"staxd still holds {GRANT} file descriptors of yours that your connections have not read, and "
            f"this request needs {GRANT} more, over max_fds_per_user ({budget} in {daemon.policy}); read "
            f"those replies or close those connections, then try again.")]}
        assert member_a.ask("request") == {"reply": GRANT}  # read: the budget is A's again
