"""`stax record -- CMD` exits with CMD's exit status, as perf record does (issue 14 item 2).

128 + N when signal N killed the command, and the summary names the signal; the samples
taken before the crash are kept.  When stax ends the command itself (--duration) it exits
0; its own failures keep their own statuses (1, and 2 for a wrong command line).
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

from stax.recording.reader import Recording
from tests.cli.conftest import WORKLOADS, stax
from tests.conftest import compile_c

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for perf_event_open")


@pytest.fixture(scope="module")
def crasher(bin_dir: Path) -> Path:
    return compile_c(WORKLOADS / "crash_after_work.c", bin_dir / "crash_after_work", "-O1", "-g",
                     "-fno-omit-frame-pointer")


def _no_core_dump() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # inherited by the profiled command


def test_exit_status_of_the_command(tmp_path: Path) -> None:
    proc = stax("record", "-o", str(tmp_path / "r.stax"), "--", "sh", "-c", "exit 3", check=False)
    assert proc.returncode == 3, proc.stderr
    assert "; the command exited with status 3;" in proc.stderr
    assert Recording.open(tmp_path / "r.stax").meta()["target_exit_code"] == 3


def test_success_is_zero_and_says_nothing(tmp_path: Path) -> None:
    proc = stax("record", "-o", str(tmp_path / "r.stax"), "--", "true")
    assert "exited" not in proc.stderr and "killed" not in proc.stderr


@pytest.mark.parametrize(("how", "status", "name"), [("segv", 139, "SIGSEGV"), ("kill", 137, "SIGKILL")])
def test_killed_by_a_signal(crasher: Path, tmp_path: Path, how: str, status: int, name: str) -> None:
    rec = tmp_path / "crash.stax"
    proc = stax("record", "-o", str(rec), "--", str(crasher), how, check=False, preexec_fn=_no_core_dump)
    assert proc.returncode == status, proc.stderr
    assert f"; the command was killed by {name} (exit status {status});" in proc.stderr
    assert "Traceback" not in proc.stderr
    recording = Recording.open(rec)  # what it did before dying is kept
    assert recording.meta()["target_exit_code"] == status
    assert "work_before_crash" in {label.name for label in recording.frame_labels()}


def test_quiet_still_exits_with_the_status(tmp_path: Path) -> None:
    proc = stax("record", "-q", "-o", str(tmp_path / "r.stax"), "--", "sh", "-c", "exit 7", check=False)
    assert (proc.returncode, proc.stderr) == (7, "")


def test_stopped_by_duration_is_zero(tmp_path: Path) -> None:
    proc = stax("record", "-d", "0.3", "-o", str(tmp_path / "r.stax"), "--", "sleep", "30")
    assert "killed" not in proc.stderr


def test_stax_errors_keep_their_own_status(tmp_path: Path) -> None:
    missing = stax("record", "-o", str(tmp_path / "r.stax"), "--", "no-such-program-xyz", check=False)
    assert missing.returncode == 2, missing.stderr  # a usage error, not the command's 127
    assert missing.stderr == ("stax: Command 'no-such-program-xyz' not found; check the spelling or"
                              " give its full path.\n")
