"""staxd applies the kernel's ptrace rule to every target, before and after perf_event_open.

The attacks run as uid 65534 against the session's real staxd: a set-user-id-root program
(workloads/secret_spinner.c, reading a file only root may read) exec'd by the client's
own process between staxd's check and its perf_event_open; the same exec after a
``start=on_exec`` grant (stax record's held child); a process that made itself
non-dumpable; a set-group-id program; a process of another group.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from tests.conftest import compile_c
from tests.readiness import wait_for_exec
from tests.staxd_linux.conftest import NOBODY, NOGROUP, USERS_GID, StaxdProcess, as_nobody

SPINNER_SOURCE = Path(__file__).parent / "workloads" / "secret_spinner.c"
WITHDRAWN = ("Process PID executed another program or changed its credentials while staxd was opening "
             "its events, so staxd withdrew them.")

pytestmark = pytest.mark.skipif(shutil.which("setpriv") is None or shutil.which("gcc") is None,
                                reason="needs setpriv and gcc")


@attrs.frozen
class Spinner:
    """The set-user-id-root spinner, a plain copy of it, and their secrets."""

    setuid: Path
    plain: Path
    root_secret: Path
    """mode 0600, owned by root: only a process running as root can read it"""
    public_secret: Path
    marker: str
    """what the secret files hold"""

    def env(self) -> dict[str, str]:
        return {"STAX_TEST_SECRET_REVERSED": self.marker[::-1]}


@pytest.fixture(scope="module")
def spinner() -> Iterator[Spinner]:
    directory = Path(tempfile.mkdtemp(prefix="staxd-setuid-"))
    directory.chmod(0o755)
    flags = ("-O1", "-g", "-fno-omit-frame-pointer", "-no-pie")
    setuid = compile_c(SPINNER_SOURCE, directory / "secret_spinner", *flags)
    setuid.chmod(0o4755)  # owned by root (we are root): runs as euid 0
    plain = compile_c(SPINNER_SOURCE, directory / "plain_spinner", *flags)
    marker = "STAX-ROOT-SECRET-" + secrets.token_hex(8)
    root_secret = directory / "root-secret"
    root_secret.write_text(marker)
    root_secret.chmod(0o600)
    public_secret = directory / "public-secret"
    public_secret.write_text(marker)
    public_secret.chmod(0o644)
    yield Spinner(setuid=setuid, plain=plain, root_secret=root_secret, public_secret=public_secret,
                  marker=marker)
    shutil.rmtree(directory, ignore_errors=True)


def attack(scenario: str, staxd: StaxdProcess, program: Path, secret: Path, spinner: Spinner,
           *args: str) -> dict:
    return as_nobody(scenario, staxd.socket, str(program), str(secret), *args, script="attack_client.py",
                     env=spinner.env(), timeout=300)


def test_setuid_exec_between_check_and_open_is_withdrawn(staxd: StaxdProcess, spinner: Spinner) -> None:
    """The issue's attack: before the re-check, 8 to 14 of 32 attempts delivered samples of the
    root program and copies of the root-only secret; now none does, and the attempts that hit
    the window are refused with the withdrawal sentence."""
    out = attack("race", staxd, spinner.setuid, spinner.root_secret, spinner, "40")
    assert out["leaks"] == 0, out
    assert out["spinner_samples"] == 0 and out["secret_copies"] == 0, out
    refusals = out["refusals"]
    assert refusals.get(WITHDRAWN, 0) >= 1, out  # the race was really run: exec after check, before open
    assert set(refusals) <= {
        WITHDRAWN,
        "Process PID runs with another user's privileges (set-user-id), so staxd will not let you profile "
        "it.",
        "Process PID is not dumpable (it called prctl(PR_SET_DUMPABLE, 0) or runs a set-user-id or "
        "unreadable program), so staxd will not let you profile it.",
        # the exec landed in the open loop: the old threads were gone, the leader in transition (ESRCH)
        "Process PID exited before its events could be opened.",
    }, out
    assert out["granted"] + sum(refusals.values()) == out["attempts"] == 40
    assert "staxd withdrew them" in staxd.log()


def test_on_exec_grant_is_detached_by_a_setuid_exec(staxd: StaxdProcess, spinner: Spinner) -> None:
    """stax record's shape: events on a held child, enabled at exec.  The kernel detaches them when
    the exec makes the task non-dumpable (begin_new_exec -> perf_event_exit_task)."""
    out = attack("on_exec", staxd, spinner.setuid, spinner.root_secret, spinner)
    assert out["spinner_exit"] == 0, out  # it read the root-only file: it ran as root
    assert out["fds"] == len(os.sched_getaffinity(0))
    assert out["spinner_samples"] == 0 and out["secret_copies"] == 0, out


def test_on_exec_grant_of_a_plain_exec_sees_the_program(staxd: StaxdProcess, spinner: Spinner) -> None:
    """The control: the same program without set-user-id is sampled, secret and all; so the test
    above would see a leak if there were one."""
    out = attack("on_exec", staxd, spinner.plain, spinner.public_secret, spinner)
    assert out["spinner_exit"] == 0, out
    assert out["spinner_samples"] >= 20, out
    assert out["secret_copies"] >= 1, out


@contextlib.contextmanager
def _nobody_process(argv: list[str], gid: int = NOGROUP) -> Iterator[subprocess.Popen]:
    """A process of uid 65534 that prints 'ready' once it is set up; killed on the way out."""
    with subprocess.Popen(["setpriv", f"--reuid={NOBODY}", f"--regid={gid}", "--clear-groups", *argv],
                          stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            yield proc
        finally:
            proc.kill()


def _refusal(staxd: StaxdProcess, pid: int) -> str:
    out = as_nobody("request", staxd.socket, json.dumps({"kind": "sampling", "pids": [pid]}))
    assert out["ok"] is False, out
    return out["error"]


def test_non_dumpable_process_is_refused(staxd: StaxdProcess) -> None:
    code = ("import ctypes, time\n"
            "assert ctypes.CDLL(None).prctl(4, 0, 0, 0, 0) == 0  # PR_SET_DUMPABLE, 0\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n")
    with _nobody_process([sys.executable, "-c", code]) as proc:
        assert os.stat(f"/proc/{proc.pid}").st_uid == NOBODY  # the directory does not show it...
        assert os.stat(f"/proc/{proc.pid}/status").st_uid == 0  # ...its files do
        assert _refusal(staxd, proc.pid) == (
            f"staxd refused: Process {proc.pid} is not dumpable (it called prctl(PR_SET_DUMPABLE, 0) or runs "
            f"a set-user-id or unreadable program), so staxd will not let you profile it.")


@pytest.fixture(scope="module")
def setgid_program() -> Iterator[Path]:
    """A copy of sleep, set-group-id to group 100 (users), which uid 65534 is not in."""
    directory = Path(tempfile.mkdtemp(prefix="staxd-setgid-"))
    directory.chmod(0o755)
    program = directory / "setgid_sleep"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", program)
    os.chown(program, 0, USERS_GID)
    program.chmod(0o2755)
    yield program
    shutil.rmtree(directory, ignore_errors=True)


def test_set_group_id_process_is_refused(staxd: StaxdProcess, setgid_program: Path) -> None:
    with _nobody_process(["sh", "-c", f"echo ready; exec {setgid_program} 60"]) as proc:
        wait_for_exec(proc.pid, setgid_program)  # sh has exec'd it
        assert _refusal(staxd, proc.pid) == (
            f"staxd refused: Process {proc.pid} runs with another group's privileges (set-group-id), so "
            f"staxd will not let you profile it.")


def test_process_of_another_group_is_refused(staxd: StaxdProcess) -> None:
    with _nobody_process(["sh", "-c", "echo ready; exec sleep 60"], gid=USERS_GID) as proc:
        assert _refusal(staxd, proc.pid) == (
            f"staxd refused: Process {proc.pid} runs with group {USERS_GID} (users), not your group "
            f"{NOGROUP} (nogroup); staxd, like ptrace, lets you profile only processes with your own user "
            f"and group.")
