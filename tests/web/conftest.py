"""Recordings the web tests share: the 3:1 and 1:1 shares workloads, and a pipe ping-pong."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, compile_c
from tests.web.server import STAX

WORKLOADS = Path(__file__).resolve().parent / "workloads"
CFLAGS = ("-O1", "-g", "-fno-omit-frame-pointer", "-pthread")

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for perf_event_open")


def record(out: Path, *command: str) -> Path:
    proc = subprocess.run([STAX, "record", "-q", "-o", str(out), "--", *command], capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return out


@pytest.fixture(scope="session")
def shares_exe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("shares")
    return compile_c(WORKLOADS / "shares.c", work / "shares", *CFLAGS)


@pytest.fixture(scope="session")
def rec_3_1(shares_exe: Path) -> Path:
    """hot_a 3 units, hot_b 1 per round for 2 s: hot_a ~75%, hot_b ~25%."""
    return record(shares_exe.parent / "three_to_one.stax", str(shares_exe), "3", "1", "2")


@pytest.fixture(scope="session")
def rec_1_1(shares_exe: Path) -> Path:
    """The same program at 1:1 for 2 s: hot_b grew from ~25% to ~50%."""
    return record(shares_exe.parent / "one_to_one.stax", str(shares_exe), "1", "1", "2")


@pytest.fixture(scope="session")
def pingpong_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The off-CPU views' ping-pong (tests/backend_linux/off_cpu/workloads/views_pingpong.c), 200
    rounds: sleep and pipe waits on two threads."""
    work = tmp_path_factory.mktemp("pingpong")
    source = REPO / "tests" / "backend_linux" / "off_cpu" / "workloads" / "views_pingpong.c"
    exe = compile_c(source, work / "pingpong", *CFLAGS)
    return record(work / "pingpong.stax", str(exe), "200")
