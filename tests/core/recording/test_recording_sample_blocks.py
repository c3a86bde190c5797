"""Schema 2's sample blocks (stax.recording.sample_blocks): exact round trips through the real
writer and reader, version-1 files still read, time-range filters at block edges, the
``samples`` SQL view, and a damaged block named in one sentence."""

from __future__ import annotations

import random
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from stax.analysis.profile import Profile
from stax.errors import RecordingFormatError
from stax.events import ImageLoad, Sample, ThreadName
from stax.recording import sample_blocks
from stax.recording.reader import Recording, SampleFilter
from stax.recording.schema import BLOCK_SAMPLES, V1_SAMPLES
from stax.recording.writer import RecordingBuilder
from stax.stack_table import SampleColumns
from tests.core.recording.event_block_edits import as_version_2
from tests.core.recording.sample_block_edits import all_samples

IMAGE = 0x400000
PID = 4242
STAX = str(Path(sys.executable).parent / "stax")


def _samples(n: int, seed: int) -> list[Sample]:
    """``n`` samples over 3 threads of 2 processes, 4 CPUs, 5 stacks, two periods, with
    jittered times that go backwards now and then (late DWARF samples) and a huge gap."""
    rng = random.Random(seed)
    out, time = [], 10_000_000_000_000
    for i in range(n):
        time += rng.randrange(900_000, 1_100_000)
        if i == n // 3:
            time += 50 * 10**9  # an idle minute: a gap that needs all 64 bits of a lane
        at = time - rng.randrange(0, 30_000_000) if rng.random() < 0.05 else time
        pid, tid = rng.choice([(PID, PID), (PID, PID + 1), (PID + 7, PID + 7)])
        user = tuple(IMAGE + 0x40 * k for k in range(rng.randrange(1, 6), 0, -1))
        weight = rng.choice([1_001_001, 1_001_001, 1_001_001, 250_000])
        out.append(Sample(at, pid, tid, rng.randrange(4), weight, (), user))
    return out


def _record(path: Path, samples: list[Sample], commit_every: int = 0) -> RecordingBuilder:
    builder = RecordingBuilder(path, plugins=None)
    builder.consume([ImageLoad(0, pid, IMAGE, IMAGE + 0x10000, 0, "/usr/bin/prog") for pid in (PID, PID + 7)]
                    + [ThreadName(0, PID, PID, "prog"), ThreadName(0, PID + 7, PID + 7, "other")])
    step = commit_every or 5000
    for start in range(0, len(samples), step):
        builder.consume(samples[start:start + step])
        if commit_every:
            builder.commit()  # the open block is rewritten, larger, at each commit
    return builder


def _expected_rows(builder: RecordingBuilder, samples: list[Sample]) -> list[tuple[int, ...]]:
    intern = builder.interner.intern_stack  # already interned: returns the ids the file holds
    return [(s.time, s.pid, s.tid, s.cpu, intern(s.pid, s.kernel_ips, s.user_ips), s.weight)
            for s in samples]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[int, ...]]]:
    path = tmp_path_factory.mktemp("blocks") / "rec.stax"
    samples = _samples(2 * BLOCK_SAMPLES + 1234, seed=10)
    builder = _record(path, samples, commit_every=7000)
    rows = _expected_rows(builder, samples)
    builder.finish(symbolicate=False)
    return path, rows


def test_every_sample_comes_back_exactly_in_order(written: tuple[Path, list[tuple[int, ...]]]) -> None:
    path, rows = written
    db = sqlite3.connect(path)
    blocks = db.execute("SELECT id, count FROM sample_blocks ORDER BY id").fetchall()
    assert blocks == [(0, BLOCK_SAMPLES), (1, BLOCK_SAMPLES), (2, 1234)]  # commits rewrote the open block
    assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0  # the rewrites' pages given back
    db.close()
    assert list(all_samples(path).rows()) == rows


def test_the_samples_view_and_the_reader_agree_with_what_was_written(
        written: tuple[Path, list[tuple[int, ...]]]) -> None:
    path, rows = written
    rec = Recording.open(path)
    try:
        assert rec.version == 3 and rec.sample_count() == len(rows)
        assert rec.db.execute("SELECT time, pid, tid, cpu, stack_id, weight FROM samples").fetchall() == rows
        per_thread_stack = Counter()
        weights = Counter()
        for _, pid, tid, _, stack, weight in rows:
            per_thread_stack[(pid, tid, stack)] += 1
            weights[(pid, tid, stack)] += weight
        expected = sorted((*k, n, weights[k]) for k, n in per_thread_stack.items())
        assert sorted(rec.thread_stack_totals()) == expected  # the totals written while writing
        everything = SampleFilter(start=0)  # a time range: decoded from the blocks instead
        assert sorted(rec.thread_stack_totals(everything)) == expected
        assert rec.time_range() == (min(r[0] for r in rows), max(r[0] for r in rows))
    finally:
        rec.close()


def test_a_plain_sqlite3_connection_is_told_what_the_view_needs(
        written: tuple[Path, list[tuple[int, ...]]]) -> None:
    path, rows = written
    db = sqlite3.connect(path)
    try:
        assert db.execute("SELECT sum(count) FROM sample_blocks").fetchone()[0] == len(rows)
        with pytest.raises(sqlite3.OperationalError, match="no such function: stax_sample_rows"):
            db.execute("SELECT count(*) FROM samples")
    finally:
        db.close()


def _brute(rows: list[tuple[int, ...]], lo: int | None, hi: int | None,
           tids: set[int] | None = None) -> Counter:
    return Counter(r[4] for r in rows if (lo is None or r[0] >= lo) and (hi is None or r[0] < hi)
                   and (tids is None or r[2] in tids))


def test_time_ranges_at_block_edges(written: tuple[Path, list[tuple[int, ...]]]) -> None:
    """Bounds equal to a block's first or last time, one ns either side, inside one block,
    across blocks, open-ended, and with a thread filter: the same samples as a brute count."""
    path, rows = written
    db = sqlite3.connect(path)
    bounds = db.execute("SELECT first_time, last_time FROM sample_blocks ORDER BY id").fetchall()
    db.close()
    edges = sorted({t + d for first, last in bounds for t in (first, last) for d in (-1, 0, 1)})
    cases = [(edges[i], edges[j]) for i in range(len(edges)) for j in range(i, len(edges), 3)]
    cases += [(None, edges[4]), (edges[7], None), (bounds[1][0], bounds[1][0])]
    rec = Recording.open(path)
    try:
        for lo, hi in cases:
            totals = rec.stack_totals(SampleFilter(start=lo, end=hi))
            assert Counter({stack: n for stack, n, _ in totals}) == _brute(rows, lo, hi), (lo, hi)
        lo, hi = bounds[0][1] - 5_000_000, bounds[2][0] + 5_000_000
        flt = SampleFilter(tids=frozenset({PID + 1}), start=lo, end=hi)
        got = Counter({stack: n for stack, n, _ in rec.stack_totals(flt)})
        assert got == _brute(rows, lo, hi, {PID + 1})
        inside = [r[0] for r in rows if lo <= r[0] < hi and r[2] == PID + 1]
        assert rec.time_range(flt) == (min(inside), max(inside))
    finally:
        rec.close()


def _as_version_1(v3: Path, v1: Path) -> None:
    """What stax 0.1 wrote: a ``samples`` table, user_version 1 (the rest of the schema is the same)."""
    shutil.copyfile(v3, v1)
    as_version_2(v1)
    rows = list(all_samples(v1).rows())
    db = sqlite3.connect(v1)
    with db:
        db.execute("DROP VIEW samples")
        db.execute("DROP TABLE sample_blocks")
        db.executescript(V1_SAMPLES)
        db.executemany("INSERT INTO samples VALUES (?,?,?,?,?,?)", rows)
        db.execute("PRAGMA user_version=1")
    db.close()


def test_version_1_files_still_open_with_the_same_figures(
        written: tuple[Path, list[tuple[int, ...]]], tmp_path: Path) -> None:
    path, rows = written
    old = tmp_path / "v1.stax"
    _as_version_1(path, old)
    rec = Recording.open(old)
    try:
        assert rec.version == 1 and rec.sample_count() == len(rows)
        lo, hi = rows[100][0], rows[20000][0]
        got = Counter({stack: n for stack, n, _ in rec.stack_totals(SampleFilter(start=lo, end=hi))})
        assert got == _brute(rows, lo, hi)
        assert rec.time_range() == (min(r[0] for r in rows), max(r[0] for r in rows))
    finally:
        rec.close()
    assert Profile.from_path(old).sample_count == Profile.from_path(path).sample_count == len(rows)
    # the CLI too: same top table from both versions
    tops = [subprocess.run([STAX, "top", str(p), "--json"],
                           capture_output=True, text=True) for p in (old, path)]
    assert [t.returncode for t in tops] == [0, 0], tops[0].stderr
    assert tops[0].stdout.replace(str(old), "REC") == tops[1].stdout.replace(str(path), "REC")


def _with_a_zeroed_byte(path: Path, tmp_path: Path, block: int) -> Path:
    """A copy whose block ``block`` has byte 41 of its zlib stream zeroed (its checksum fails)."""
    broken = tmp_path / "broken.stax"
    shutil.copyfile(path, broken)
    db = sqlite3.connect(broken)
    with db:
        db.execute("UPDATE sample_blocks SET data = CAST(substr(data, 1, 40) || x'00' || substr(data, 42)"
                   " AS BLOB) WHERE id = ?", (block,))
    db.close()
    return broken


def test_a_damaged_block_is_one_sentence(written: tuple[Path, list[tuple[int, ...]]], tmp_path: Path) -> None:
    broken = _with_a_zeroed_byte(written[0], tmp_path, block=1)
    rec = Recording.open(broken)  # headers are fine: the totals still answer unfiltered views
    try:
        assert rec.stack_totals()
        with pytest.raises(RecordingFormatError) as caught:
            rec.stack_totals(SampleFilter(start=0))
    finally:
        rec.close()
    assert str(caught.value) == f"{broken} is damaged: sample block 1 does not decompress; record it again."
    top = subprocess.run([STAX, "top", str(broken), "-p", str(PID)],
                         capture_output=True, text=True)
    assert top.returncode != 0 and "Traceback" not in top.stderr
    assert top.stderr.strip().splitlines() == [
        f"stax: {broken} is damaged: sample block 1 does not decompress; record it again."]


@pytest.mark.parametrize(("edit", "what"), [
    ("data", "does not decompress"),
    ("short", "(is longer or shorter than its|has a bad .* column)"),
    ("tag", "has a bad time column"),
])
def test_forged_blocks_are_named(tmp_path: Path, edit: str, what: str) -> None:
    cols = SampleColumns()
    for i in range(50):
        cols.append(1000 + i, 1, 1, 0, -1, 5)
    block = sample_blocks.encode(cols)
    count, data = block.count, block.data
    if edit == "data":
        data = data[:10] + bytes([data[10] ^ 0xFF]) + data[11:]
    elif edit == "short":
        count += 1
    else:
        import zlib

        data = zlib.compress(b"\x07" + zlib.decompress(data)[1:])
    with pytest.raises(RecordingFormatError, match=f"rec.stax is damaged: sample block 3 {what}"):
        sample_blocks.decode("rec.stax", 3, count, data)


def test_stax_sql_queries_the_samples_view(written: tuple[Path, list[tuple[int, ...]]]) -> None:
    """`stax sql` is how a user queries samples now that sqlite3 alone cannot decode them."""
    path, rows = written
    out = subprocess.run([STAX, "sql", str(path), "select tid, count(*) from samples group by tid"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    per_tid = Counter(r[2] for r in rows)
    assert out.stdout.splitlines() == ["tid\tcount(*)", *(f"{t}\t{per_tid[t]}" for t in sorted(per_tid))]
    bad = subprocess.run([STAX, "sql", str(path), "delete from samples"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "The query failed" in bad.stderr


def test_a_time_range_selects_the_spans_and_wakeups_it_meets(tmp_path: Path) -> None:
    """Spans overlapping ``[start, end)`` (counted whole), wakeups inside it, samples inside it."""
    from tests.backend_linux.off_cpu.synthetic_off_cpu import write_pingpong_recording

    rec = Recording.open(write_pingpong_recording(tmp_path / "pp.stax"))
    try:
        spans = rec.off_cpu_spans()
        wakeups = rec.wakeups().values()
        lo, hi = spans[40][0] + 1, spans[60][1]  # inside the 41st span, at the 61st's end
        flt = SampleFilter(start=lo, end=hi)
        assert rec.off_cpu_spans(flt) == [s for s in spans if s[1] > lo and s[0] < hi]
        expected = Counter((w[4], w[5], w[2], w[3]) for w in wakeups if lo <= w[0] < hi)
        assert {(p, t, wp, wt): n for p, t, wp, wt, n in rec.wakeup_pairs(flt)} == expected
        first, last = rec.time_range()
        assert rec.time_range(SampleFilter(start=first + 1, end=last))[0] > first
        assert rec.time_range(SampleFilter(start=last + 1)) is None
    finally:
        rec.close()


def test_stax_sql_names_a_block_the_view_cannot_decode(written: tuple[Path, list[tuple[int, ...]]],
                                                       tmp_path: Path) -> None:
    broken = _with_a_zeroed_byte(written[0], tmp_path, block=2)
    out = subprocess.run([STAX, "sql", str(broken), "select count(*) from samples"], capture_output=True,
                         text=True)
    assert out.returncode == 1 and out.stderr.strip().splitlines() == [
        f"stax: {broken} is damaged: sample block 2 does not decompress; record it again."]
