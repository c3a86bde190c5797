"""The annotate workload, built with gcc -O2 -g and frame pointers, and one real recording of it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from stax.recording import sample_sql
from tests.conftest import compile_c

WORKLOAD = Path(__file__).resolve().parent / "workloads" / "hot_loop.c"
STAX = str(Path(sys.executable).parent / "stax")
HOT_ROUNDS = "250000"
"""~1.5 s of hot_loop: over a thousand samples at 999 Hz."""
NAPS = "20"
"""20 x 5 ms blocked in nap_once's syscall."""


def stax(*args: str, check: bool = True, env: dict[str, str] | None = None,
         ) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([STAX, *args], capture_output=True, text=True, timeout=180, env=env)
    if check:
        assert proc.returncode == 0, f"stax {' '.join(args)} failed ({proc.returncode}): {proc.stderr}"
    return proc


@attrs.frozen
class Recorded:
    binary: Path
    """The binary that was recorded (deleted by some tests: use ``twin`` to inspect it)."""
    twin: Path
    """A byte-identical copy that no test deletes."""
    recording: Path
    stderr: str


def record_workload(directory: Path, name: str = "hot_loop") -> Recorded:
    """Build the workload into ``directory`` and record it with the real ``stax record``."""
    binary = compile_c(WORKLOAD, directory / name, "-O2", "-g", "-fno-omit-frame-pointer")
    twin = directory / f"{name}.twin"
    shutil.copy2(binary, twin)
    recording = directory / f"{name}.stax"
    proc = stax("record", "-o", str(recording), "--", str(binary), HOT_ROUNDS, NAPS)
    return Recorded(binary, twin, recording, proc.stderr)


@pytest.fixture(scope="package")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    if os.geteuid() != 0:
        pytest.skip("recording off-CPU call sites needs root (perf_event_open)")
    return record_workload(tmp_path_factory.mktemp("annotate"))


def function_self_samples(recording: Path, name: str) -> int:
    """Samples whose leaf frame lies in ``name``, straight from the tables (not through stax)."""
    db = sqlite3.connect(recording)
    try:
        (count,) = db.execute(
            "SELECT coalesce(sum(t.count), 0) FROM sample_totals t JOIN stacks s ON s.id = t.stack_id"
            " JOIN frames f ON f.id = s.frame_id WHERE f.function = ?", (name,)).fetchone()
    finally:
        db.close()
    return count


def blocked_ns_through(recording: Path, name: str) -> tuple[int, int]:
    """(spans, blocked ns) of the blocked spans whose stack holds ``name``, from the tables."""
    db = sample_sql.connect(recording)  # the off_cpu_spans view decodes blocks through it
    try:
        parents = dict(db.execute("SELECT id, parent_id FROM stacks"))
        frame_of = dict(db.execute("SELECT id, frame_id FROM stacks"))
        names = dict(db.execute("SELECT id, function FROM frames"))
        spans = ns = 0
        for stack_id, count, total in db.execute(
            "SELECT stack_id, count(*), sum(end - start) FROM off_cpu_spans"
            " WHERE reason != 'preempted' GROUP BY stack_id"
        ):
            stack, found = stack_id, False
            while stack != -1 and not found:
                found = names.get(frame_of[stack]) == name
                stack = parents[stack]
            if found:
                spans += count
                ns += total
    finally:
        db.close()
    return spans, ns
