"""Recordings the export tests share: a synthetic one, and real ones of hotspots and pingpong."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, compile_c
from tests.exports.synthetic_export import write_export_recording

STAX = str(Path(sys.executable).parent / "stax")
GO = shutil.which("go")
CFLAGS = ("-O1", "-g", "-fno-omit-frame-pointer", "-pthread")


def stax(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real `stax` command (text mode); with ``check`` it must succeed without a traceback."""
    proc = subprocess.run([STAX, *args], capture_output=True, text=True, timeout=180)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, f"stax {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
    return proc


def go_pprof(*args: str) -> str:
    """``go tool pprof ARGS`` (symbolization off: every location is already named); its stdout."""
    assert GO, "go is required (scripts/bootstrap.sh installs golang-go)"
    proc = subprocess.run([GO, "tool", "pprof", "-symbolize=none", *args], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"go tool pprof {' '.join(args)} failed:\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="session")
def export_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two threads; user, inlined, kernel and JIT frames; a stackless sample; sleep and preempted spans."""
    return write_export_recording(tmp_path_factory.mktemp("export") / "export.stax")


@pytest.fixture(scope="session")
def page_faults_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same recording as if made with ``-e page-faults -c 10``: its weights are events."""
    return write_export_recording(tmp_path_factory.mktemp("export") / "faults.stax", event="page-faults")


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for perf_event_open")


@pytest.fixture(scope="session")
def hotspots_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/hotspots.c recorded for 2 s (hot_a ~75%, hot_b ~25%)."""
    work = tmp_path_factory.mktemp("hotspots")
    exe = compile_c(REPO / "examples" / "hotspots.c", work / "hotspots", *CFLAGS)
    rec = work / "hot.stax"
    stax("record", "-q", "-o", str(rec), "--", str(exe), "2")
    return rec


@pytest.fixture(scope="session")
def pingpong_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/backend_linux/off_cpu/workloads/views_pingpong.c, 200 rounds: sleep and pipe waits, 2 threads."""
    work = tmp_path_factory.mktemp("pingpong")
    exe = compile_c(REPO / "tests/backend_linux/off_cpu/workloads/views_pingpong.c", work / "pingpong",
                    *CFLAGS)
    rec = work / "pingpong.stax"
    stax("record", "-q", "-o", str(rec), "--", str(exe), "200")
    return rec
