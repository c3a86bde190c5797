"""Real recordings the analysis tests share: programs built here, recorded by the real `stax`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WORKLOADS = Path(__file__).resolve().parent / "workloads"
STAX = str(Path(sys.executable).parent / "stax")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for perf_event_open")


def stax(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real `stax` command; with ``check`` it must succeed, never with a traceback."""
    proc = subprocess.run([STAX, *args], capture_output=True, text=True, timeout=180)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, f"stax {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
    return proc


def stax_json(*args: str) -> dict:
    return json.loads(stax(*args, "--json").stdout)


def build(compiler: str, source: Path, out: Path, *flags: str) -> Path:
    tool = shutil.which(compiler)
    assert tool, f"{compiler} is required (scripts/bootstrap.sh installs it)"
    subprocess.run([tool, *flags, "-o", str(out), str(source)], check=True)
    return out


def record(exe: Path, rec: Path, *args: str) -> Path:
    stax("record", "-q", "-o", str(rec), "--", str(exe), *args)
    return rec


@pytest.fixture(scope="session")
def cxx_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """workloads/cxx_names.cpp (templates, operators, a lambda) built with g++, recorded 1 s."""
    work = tmp_path_factory.mktemp("cxx")
    exe = build("g++", WORKLOADS / "cxx_names.cpp", work / "cxx_names", "-O1", "-g",
                "-fno-omit-frame-pointer")
    return record(exe, work / "cxx.stax", "1")


@pytest.fixture(scope="session")
def pingpong_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/backend_linux/off_cpu/workloads/views_pingpong.c, 200 rounds: sleep, pipe and lock waits on three
    threads; its end wakes the `stax record` that waits for it (a thread outside the target)."""
    work = tmp_path_factory.mktemp("pingpong")
    source = WORKLOADS.parents[2] / "backend_linux" / "off_cpu" / "workloads" / "views_pingpong.c"
    exe = build("gcc", source, work / "pingpong", "-O1", "-g", "-fno-omit-frame-pointer", "-pthread")
    return record(exe, work / "pingpong.stax", "200")


@pytest.fixture(scope="session")
def inline_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """workloads/inline_lines.c built with -O2 -g: mix() (lines 8-12 hot) inlined into outer()."""
    work = tmp_path_factory.mktemp("inline")
    exe = build("gcc", WORKLOADS / "inline_lines.c", work / "inline_lines", "-O2", "-g",
                "-fno-omit-frame-pointer")
    return record(exe, work / "inline.stax", "1")
