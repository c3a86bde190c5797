"""Real recordings the analysis tests share: programs built here, recorded by the real `stax`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.exports.conftest import stax

WORKLOADS = Path(__file__).resolve().parent / "workloads"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for perf_event_open")


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


def built_and_recorded(factory: pytest.TempPathFactory, compiler: str, source: Path,
                       *flags: str) -> Path:
    """``source`` built with ``compiler`` and ``flags`` and recorded for 1 s (its argument)."""
    work = factory.mktemp(source.stem)
    exe = build(compiler, source, work / source.stem, *flags)
    return record(exe, work / f"{source.stem}.stax", "1")


@pytest.fixture(scope="session")
def cxx_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """workloads/cxx_names.cpp (templates, operators, a lambda) built with g++, recorded 1 s."""
    return built_and_recorded(tmp_path_factory, "g++", WORKLOADS / "cxx_names.cpp", "-O1", "-g",
                              "-fno-omit-frame-pointer")


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
    return built_and_recorded(tmp_path_factory, "gcc", WORKLOADS / "inline_lines.c", "-O2", "-g",
                              "-fno-omit-frame-pointer")
