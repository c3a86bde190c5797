"""CounterValues reach the recording through RecordingBuilder and `stax threads --json` shows them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from stax.events import CounterValues, ImageLoad, Sample, ThreadName
from stax.recording.reader import Recording
from stax.recording.writer import RecordingBuilder

STAX = str(Path(sys.executable).parent / "stax")
PID, WORKER = 400, 401
IMAGE = 0x400000


def _write(path: Path) -> Path:
    builder = RecordingBuilder(path, plugins=None)
    events = [ImageLoad(0, PID, IMAGE, IMAGE + 0x1000, 0, "/usr/bin/prog"),
              ThreadName(0, PID, PID, "prog"), ThreadName(0, PID, WORKER, "worker")]
    events += [Sample(1_000 + i, PID, PID if i % 2 else WORKER, 0, 1_000_000, (), (IMAGE + 0x10,))
               for i in range(20)]
    # a backend sends one CounterValues per thread: the totals at exit (or at the end)
    events += [CounterValues(5_000, PID, WORKER, {"cycles": 3_000_000, "instructions": 6_000_000,
                                                  "l1d-read-misses": 1_200, "branch-misses": 345}),
               CounterValues(9_000, PID, PID, {"cycles": 2_000_000, "instructions": 1_000_000,
                                               "l1d-read-misses": 50, "branch-misses": 7})]
    builder.consume(events)
    builder.finish(symbolicate=False)
    return path


def test_counter_values_are_stored_per_thread(tmp_path: Path) -> None:
    rec = Recording.open(_write(tmp_path / "c.stax"))
    try:
        totals = sorted(rec.counter_totals())
    finally:
        rec.close()
    assert totals == sorted([(PID, WORKER, "cycles", 3_000_000), (PID, WORKER, "instructions", 6_000_000),
                             (PID, WORKER, "l1d-read-misses", 1_200), (PID, WORKER, "branch-misses", 345),
                             (PID, PID, "cycles", 2_000_000), (PID, PID, "instructions", 1_000_000),
                             (PID, PID, "l1d-read-misses", 50), (PID, PID, "branch-misses", 7)])


def test_stax_threads_json_shows_cycles_instructions_and_ipc(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.stax")
    proc = subprocess.run([STAX, "threads", str(path), "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    threads = {t["tid"]: t for t in json.loads(proc.stdout)["threads"]}
    worker, main = threads[WORKER], threads[PID]
    assert worker["counters"] == {"cycles": 3_000_000, "instructions": 6_000_000, "l1d-read-misses": 1_200,
                                  "branch-misses": 345}
    assert worker["ipc"] == 2.0 and main["ipc"] == 0.5
    table = subprocess.run([STAX, "threads", str(path)], capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    header = next(line for line in table.stdout.splitlines() if line.startswith("pid")).split()
    assert {"cycles", "instructions", "ipc"} <= set(header)
    assert "2.00" in table.stdout and "3,000,000" in table.stdout
