"""Recording size (issue 10 item 5): at most 10 bytes per sample for a 999 Hz fp recording.

Measured as a user sees it: the whole ``.stax`` file over the samples it holds, after a
real `stax record -F 999` of a two-thread CPU-bound workload (~15k samples).  Schema 1
stored a row per sample, ~27 bytes each (~30 for the whole file); schema 2's column blocks
take ~2.5-3.5 bytes (stax.recording.sample_blocks), the rest is the file's fixed part
(the schema, frames, stacks, symbols: ~40 KiB).

With off-CPU capture on (the default), spans and wakeups were rows of their own in
schemas 1-2 (~40 bytes a span, ~30 a wakeup) and made the default recording of a
workload that blocks ~45 bytes a sample (more on a loaded machine, whose preemptions are
spans too).  Schema 3 keeps them in column blocks too
(stax.recording.event_blocks, ~2-4 bytes each), and the file's fixed part shrank with
512-byte pages and VACUUM at the end; the default recording of such a workload is
asserted at <= 10 bytes a sample, whole file.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from stax.recording import sample_sql
from tests.backend_linux.conftest import needs_root
from tests.cli.conftest import REPO, compile_c, stax

pytestmark = needs_root

ROUNDS = "4000"
"""~15 s of CPU over two threads: ~15k samples at 999 Hz, so the file's fixed part (~40-50
KiB: ~25 tables of a page or more, the schema, frames, stacks, symbols) is ~3.5 bytes a sample."""
WAIT_ROUNDS = "700"
"""work_and_wait.c: ~25 s of CPU, one thread at a time (~25k samples at 999 Hz), 1,400 switch-outs
ended by a wakeup, plus what a loaded machine adds: preemptions (spans without a wakeup) and the
target's wakeups of kernel threads, ~0.5 spans and wakeups a sample at load 2-5 on 2 cores, where
the figure is ~9-10.5 with 18k samples (the file's fixed part, ~70 KiB of stacks, frames, code and
schema, is ~4 of it: the longer run amortizes it) and was ~31 on schema 2."""
MAX_BYTES_PER_SAMPLE = 10
SAMPLE_BLOCK_BYTES = 5
"""The blocks alone: ~2.5 bytes a sample idle, 3.5-3.9 on a VM at load 15-18 (the timer's
jitter grows with the load: it is the one column zlib cannot take to nothing)."""


@pytest.fixture(scope="module")
def two_threads(bin_dir: Path) -> Path:
    source = REPO / "tests" / "backend_linux" / "workloads" / "two_threads.c"
    return compile_c(source, bin_dir / "two_threads", "-O1", "-g", "-fno-omit-frame-pointer", "-pthread")


@pytest.fixture(scope="module")
def work_and_wait(bin_dir: Path) -> Path:
    source = REPO / "tests" / "cli" / "workloads" / "work_and_wait.c"
    return compile_c(source, bin_dir / "work_and_wait", "-O1", "-g", "-fno-omit-frame-pointer", "-pthread")


def _figures(rec: Path) -> tuple[int, int, int, int]:
    """(file bytes, samples, bytes of the sample blocks, bytes of the off-CPU spans and wakeups)."""
    db = sqlite3.connect(rec)
    try:
        samples = db.execute("SELECT sum(count) FROM sample_blocks").fetchone()[0]
        off_cpu_tables = "'off_cpu_spans', 'wakeups', 'span_blocks', 'wakeup_blocks'"  # schema 2, 3
        blocks, off_cpu = (db.execute(f"SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN ({names})")
                           .fetchone()[0] for names in ("'sample_blocks'", off_cpu_tables))
    finally:
        db.close()
    return rec.stat().st_size, samples, blocks, off_cpu


def test_a_999hz_fp_recording_takes_at_most_10_bytes_a_sample(two_threads: Path, tmp_path: Path) -> None:
    rec = tmp_path / "on-cpu.stax"
    stax("record", "-q", "-F", "999", "--no-off-cpu", "-o", str(rec), "--", str(two_threads), ROUNDS,
         timeout=600)
    size, samples, blocks, _ = _figures(rec)
    print(f"--no-off-cpu: {size:,} bytes / {samples:,} samples = {size / samples:.2f} bytes a sample"
          f" ({blocks / samples:.2f} of them the sample blocks)")
    assert samples >= 5000
    assert size / samples <= MAX_BYTES_PER_SAMPLE


def test_the_default_recording_of_a_workload_that_blocks_takes_at_most_10_bytes_a_sample(
        work_and_wait: Path, tmp_path: Path) -> None:
    """Off-CPU capture on (the default): samples, spans and wakeups, whole file."""
    rec = tmp_path / "default.stax"
    stax("record", "-q", "-F", "999", "-o", str(rec), "--", str(work_and_wait), WAIT_ROUNDS, timeout=600)
    size, samples, blocks, off_cpu = _figures(rec)
    db = sample_sql.connect(rec)
    spans = db.execute("SELECT count(*) FROM off_cpu_spans").fetchone()[0]
    wakeups = db.execute("SELECT count(*) FROM wakeups").fetchone()[0]
    db.close()
    print(f"default (load {os.getloadavg()[0]:.1f}): {size:,} bytes / {samples:,} samples ="
          f" {size / samples:.2f} bytes a sample;"
          f" sample blocks {blocks / samples:.2f}; {spans:,} off-CPU spans and {wakeups:,} wakeups"
          f" {off_cpu:,} bytes ({off_cpu / max(spans + wakeups, 1):.1f} each)")
    assert samples >= 5000 and spans >= 1000 and wakeups >= 1000
    assert size / samples <= MAX_BYTES_PER_SAMPLE
