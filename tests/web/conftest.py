"""Recordings the web tests share: the 3:1 and 1:1 shares workloads, a pipe ping-pong, and a
synthetic one whose off-CPU stacks hold a frame that is not code."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from stax.blocked_reason import BlockedReason
from stax.events import ImageKind, ImageLoad, OffCpuInterval, Sample, ThreadName
from stax.recording.writer import RecordingBuilder
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


NAPPER = "/usr/bin/napper"
NAPPER_START = 0x400000
NAPPER_FUNCTIONS = {"main": NAPPER_START + 0x100, "nap": NAPPER_START + 0x200}
NOT_CODE_ADDRESS = 0xBEBC200
"""A nanosleep's timespec (200,000,000 ns) read as a return address: no mapping holds it."""
MS = 1_000_000


@pytest.fixture(scope="session")
def non_code_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Off-CPU stacks with a frame that is not code: 3 sleeps and 2 preemptions through
    main -> [not code] -> nap, 1 sleep through main -> nap (through the real RecordingBuilder)."""
    path = tmp_path_factory.mktemp("noncode") / "noncode.stax"
    pid, main, nap = 700, NAPPER_FUNCTIONS["main"], NAPPER_FUNCTIONS["nap"]
    events: list[object] = [ImageLoad(0, pid, NAPPER_START, NAPPER_START + 0x10000, 0, NAPPER, ImageKind.ELF),
                            ThreadName(0, pid, pid, "napper"), Sample(MS, pid, pid, 0, MS, (), (nap, main))]
    clock = 2 * MS
    through = (nap, NOT_CODE_ADDRESS, main)
    spans = ([(BlockedReason.SLEEP, through)] * 3 + [(BlockedReason.PREEMPTED, through)] * 2
             + [(BlockedReason.SLEEP, (nap, main))])
    for reason, user in spans:
        events.append(OffCpuInterval(clock, clock + 10 * MS, pid, pid, 0, reason, "", (), user))
        clock += 11 * MS
    builder = RecordingBuilder(path, plugins=None)
    builder.consume(events)
    builder.finish(symbolicate=False)
    db = sqlite3.connect(path)
    with db:  # named as a symbol source would (a caller's frame sits at its return address - 1)
        for name, address in NAPPER_FUNCTIONS.items():
            low = address - NAPPER_START - 0x40
            db.execute("UPDATE frames SET function = ? WHERE offset BETWEEN ? AND ? AND is_kernel = 0",
                       (name, low, low + 0x80))
    db.close()
    return path
