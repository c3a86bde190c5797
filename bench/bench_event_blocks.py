"""Off-CPU spans and wakeups: schema 3's column blocks against schema 2's row each, same events.

Figures (issue 10 items 3 and 5):
1. write rows/s (CPU): the recording file's span and wakeup path (stax.recording.sqlite_writer:
   columns in, blocks out, a commit a second) vs schema 2's ``executemany`` INSERTs;
2. bytes per span and per wakeup of their storage alone (blocks vs the two tables);
3. read spans/s (CPU): ``Recording.thread_off_cpu`` over every span (blocks decoded into the
   reader's tables, then the view's GROUP BY) vs the same query on schema 2's table.

Synthetic but shaped like the bench ping-pong (bench/bench_offcpu.py, ~90k switches/s on
2 CPUs): two threads blocking on each other in turn, each span ended by a wakeup from the
other thread, a third of them preemptions without one; 20 stacks, ns timestamps with the
jitter of real wait lengths.  Not a test.
    .venv/bin/python bench/bench_event_blocks.py [--spans 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
import time
from array import array
from collections.abc import Iterator
from pathlib import Path

from bench_sample_blocks import table_bytes, timed  # bench/ is the script's directory

from stax.events import ImageLoad, ThreadName
from stax.recording.event_blocks import NO_WAKEUP, SPANS
from stax.recording.reader import Recording
from stax.recording.schema import V2_EVENTS, compact
from stax.recording.writer import RecordingBuilder

PID = 1000
IMAGE = 0x400000
STACKS = 25
COMMIT_EVERY = 90_000
"""Spans per commit: the recorder commits once a second, ~90k switches on the ping-pong."""


def synthetic(n: int) -> tuple[list[list], list[list]]:
    """(span columns, wakeup columns) as the writer takes them (stax.recording.event_blocks)."""
    rng = random.Random(1)
    spans: list[list] = [[] for _ in range(9)]
    wakeups: list[list] = [[] for _ in range(7)]
    t = 10**13
    for i in range(n):
        tid = PID + 1 + (i & 1)
        start = t
        t += rng.randrange(8_000, 14_000)  # ~11 us a switch: ~90k a second
        end = t
        preempted = i % 3 == 2
        wakeup = None
        if not preempted:
            wakeup = len(wakeups[0])
            for column, value in zip(wakeups, (end - rng.randrange(1_000, 3_000), i & 1, PID,
                                               PID + 2 - (i & 1), PID, tid, 20 + i % 5), strict=True):
                column.append(value)
        reason, site = ("preempted", "") if preempted else ("pipe-ipc", "pipe_read")
        for column, value in zip(spans, (start, end, PID, tid, i & 1, reason, site, i % 20, wakeup),
                                 strict=True):
            column.append(value)
    return spans, wakeups


def commits(spans: list[list]) -> Iterator[tuple[list[list], range]]:
    """Per commit: the spans' columns, and the ids of the wakeups that arrived with them."""
    done_wakeups = 0
    for at in range(0, len(spans[0]), COMMIT_EVERY):
        part = [c[at:at + COMMIT_EVERY] for c in spans]
        linked = [w for w in part[8] if w is not None]
        upto = (linked[-1] + 1) if linked else done_wakeups
        yield part, range(done_wakeups, upto)
        done_wakeups = upto


def _as_run(part: list[list]) -> list:
    """The span columns as the compiled stream hands them over (stax.event_columns): integers
    in ``array("q")``, no wakeup as :data:`stax.recording.event_blocks.NO_WAKEUP`."""
    wakeup = [NO_WAKEUP if w is None else w for w in part[8]]
    return [c if i in SPANS.texts else array("q", c) for i, c in enumerate((*part[:8], wakeup))]


def write_blocks(path: Path, spans: list[list], wakeups: list[list]) -> float:
    builder = RecordingBuilder(path, plugins=None)
    builder.consume([ImageLoad(0, PID, IMAGE, IMAGE + 0x100000, 0, "/usr/bin/pingpong"),
                     ThreadName(0, PID, PID + 1, "ping"), ThreadName(0, PID, PID + 2, "pong")])
    for k in range(STACKS):  # the stack ids the synthetic events use: 0 .. STACKS - 1
        builder.interner.intern_stack(PID, (), tuple(IMAGE + 0x40 * (k * 3 + d) for d in range(4 + k % 3)))
    file = builder.file
    runs = [(_as_run(part), ids) for part, ids in commits(spans)]
    start = time.process_time()
    for part, ids in runs:
        file.add_wakeup_columns([c[ids.start:ids.stop] for c in wakeups])
        file.add_off_cpu_columns(part)
        builder.commit()
    elapsed = time.process_time() - start
    builder.finish(symbolicate=False)
    return elapsed


def write_rows(path: Path, spans: list[list], wakeups: list[list]) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(compact(V2_EVENTS))
    start = time.process_time()
    for part, ids in commits(spans):
        db.execute("BEGIN")
        # as schema 2's writer did: the columns zipped into rows, wakeups numbered
        db.executemany("INSERT INTO wakeups VALUES (?,?,?,?,?,?,?,?)",
                       zip(ids, *(c[ids.start:ids.stop] for c in wakeups), strict=True))
        db.executemany("INSERT INTO off_cpu_spans VALUES (?,?,?,?,?,?,?,?,?)", zip(*part, strict=True))
        db.execute("COMMIT")
    elapsed = time.process_time() - start
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=100_000)
    args = parser.parse_args()
    spans, wakeups = synthetic(args.spans)
    n, w = len(spans[0]), len(wakeups[0])
    with tempfile.TemporaryDirectory(prefix="stax-bench-events-") as tmp:
        v3, v2 = Path(tmp) / "v3.stax", Path(tmp) / "v2.db"
        write3 = write_blocks(v3, spans, wakeups)
        write2 = write_rows(v2, spans, wakeups)
        span3, wake3 = table_bytes(v3, ("span_blocks",)), table_bytes(v3, ("wakeup_blocks",))
        span2, wake2 = table_bytes(v2, ("off_cpu_spans",)), table_bytes(v2, ("wakeups",))
        rec = Recording.open(v3)
        read3 = timed(rec.thread_off_cpu)
        rec.close()
        db = sqlite3.connect(v2)
        read2 = timed(lambda: db.execute("SELECT pid, tid, reason, count(*), sum(end - start) FROM"
                                         " off_cpu_spans GROUP BY pid, tid, reason").fetchall())
        db.close()
    print(f"{n:,} spans + {w:,} wakeups   load {os.getloadavg()[0]:.1f}")
    print(f"write events/s (CPU)     blocks {(n + w) / write3:,.0f}   schema 2 INSERTs"
          f" {(n + w) / write2:,.0f}   ratio {write2 / write3:.1f}x   ({write3 * 1e6 / (n + w):.2f} vs"
          f" {write2 * 1e6 / (n + w):.2f} us each)")
    print(f"bytes per span           blocks {span3 / n:.2f}   schema 2 table {span2 / n:.2f}")
    print(f"bytes per wakeup         blocks {wake3 / w:.2f}   schema 2 table {wake2 / w:.2f}")
    print(f"read spans/s (CPU)       Recording.thread_off_cpu {n / read3:,.0f}"
          f"   schema 2 GROUP BY {n / read2:,.0f}")


if __name__ == "__main__":
    main()
