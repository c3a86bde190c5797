"""Sample storage: schema 2's column blocks against schema 1's row per sample, same samples.

Figures (issue 10 item 5):
1. write samples/s: the recording file's sample path (stax.recording.sqlite_writer: blocks,
   and the per-(thread, stack) totals counted from them) vs schema 1's ``executemany``
   INSERT plus its ``GROUP BY`` totals pass at the end;
2. bytes per sample of the sample storage alone (blocks vs the ``samples`` table);
3. read samples/s: every sample decoded and added up per stack through
   ``Recording.stack_totals`` with a time range (the path timelines and time selections
   take), the ``samples`` SQL view (``count(*)`` and a ``GROUP BY``), and schema 1's
   ``GROUP BY`` over its table.

Synthetic but shaped like a 2-CPU recording: 1 ms apart per CPU with timer jitter, 4
threads, 600 stacks with a skewed share, one period.  Not a test.
    .venv/bin/python bench/bench_sample_blocks.py [--samples 1000000]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from stax.events import ImageLoad, ThreadName
from stax.recording.reader import Recording, SampleFilter
from stax.recording.schema import V1_SAMPLES
from stax.recording.writer import RecordingBuilder
from stax.stack_table import SampleColumns

IMAGE = 0x400000
PID = 1000
BATCH = 20_000


def synthetic(n: int, stack_ids: list[int]) -> SampleColumns:
    rng = random.Random(1)
    weights = [1.0 / (k + 1) for k in range(len(stack_ids))]
    stacks = rng.choices(stack_ids, weights, k=n)
    cols = SampleColumns()
    clock = [10**13, 10**13 + 500_000]
    for i in range(n):
        cpu = i & 1
        clock[cpu] += 1_000_000 + rng.randrange(-20_000, 60_000)
        tid = PID + rng.randrange(4)
        cols.append(clock[cpu], PID, tid, cpu, stacks[i], 1_000_000)
    return cols


def batches(cols: SampleColumns):
    for start in range(0, len(cols), BATCH):
        yield cols.slice(start, min(start + BATCH, len(cols)))


def write_v2(path: Path, n: int) -> tuple[float, SampleColumns]:
    builder = RecordingBuilder(path, plugins=None)
    builder.consume([ImageLoad(0, PID, IMAGE, IMAGE + 0x100000, 0, "/usr/bin/prog"),
                     ThreadName(0, PID, PID, "prog")])
    stack_ids = [builder.interner.intern_stack(PID, (), tuple(IMAGE + 0x40 * (k * 7 + d) for d in range(8)))
                 for k in range(600)]
    cols = synthetic(n, stack_ids)
    parts = list(batches(cols))
    file = builder.file
    start = time.process_time()
    for part in parts:
        file.append_samples(part)
    builder.commit()
    list(file.totals_rows())  # the totals pass writes these (counted once: it adds no sample again)
    elapsed = time.process_time() - start
    builder.finish(symbolicate=False)
    return elapsed, cols


def write_v1(path: Path, cols: SampleColumns) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(V1_SAMPLES + "CREATE TABLE sample_totals (pid, tid, stack_id, count, weight);")
    parts = list(batches(cols))
    start = time.process_time()
    db.execute("BEGIN")
    for part in parts:
        db.executemany("INSERT INTO samples VALUES (?,?,?,?,?,?)", part.rows())
    db.execute("COMMIT")
    db.execute("INSERT INTO sample_totals SELECT pid, tid, stack_id, count(*), sum(weight)"
               " FROM samples GROUP BY pid, tid, stack_id")
    elapsed = time.process_time() - start
    db.close()
    return elapsed


def table_bytes(path: Path, names: tuple[str, ...]) -> int:
    db = sqlite3.connect(path)
    marks = ",".join("?" * len(names))
    size = db.execute(f"SELECT sum(pgsize) FROM dbstat WHERE name IN ({marks})", names).fetchone()[0]
    db.close()
    return size


def timed(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.samples
    tmp = Path(tempfile.mkdtemp(prefix="stax-bench-blocks-"))
    v2, v1 = tmp / "v2.stax", tmp / "v1.db"
    write2, cols = write_v2(v2, n)
    write1 = write_v1(v1, cols)
    b2, b1 = table_bytes(v2, ("sample_blocks",)), table_bytes(v1, ("samples",))
    rec = Recording.open(v2)
    everything = SampleFilter(start=0)
    read_api = timed(lambda: rec.stack_totals(everything))
    view_count = timed(lambda: rec.db.execute("SELECT count(*) FROM samples").fetchone())
    view_group = timed(lambda: rec.db.execute("SELECT stack_id, count(*), sum(weight) FROM samples"
                                              " GROUP BY stack_id").fetchall())
    rec.close()
    db = sqlite3.connect(v1)
    v1_group = timed(lambda: db.execute("SELECT stack_id, count(*), sum(weight) FROM samples"
                                        " GROUP BY stack_id").fetchall())
    db.close()
    print(f"{n:,} samples   load {os.getloadavg()[0]:.1f}")
    print(f"write samples/s (CPU)        blocks + totals {n / write2:,.0f}"
          f"   schema 1 INSERT + GROUP BY {n / write1:,.0f}   ratio {write1 / write2:.1f}x")
    print(f"sample bytes per sample      blocks {b2 / n:.2f}   schema 1 table {b1 / n:.2f}")
    print(f"read samples/s (CPU)         Recording.stack_totals(time range) {n / read_api:,.0f}"
          f"   samples view count(*) {n / view_count:,.0f}   view GROUP BY {n / view_group:,.0f}"
          f"   schema 1 GROUP BY {n / v1_group:,.0f}")
    for path in tmp.iterdir():
        path.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    main()
