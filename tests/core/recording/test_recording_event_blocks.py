"""Schema 3's span and wakeup blocks (stax.recording.event_blocks): exact round trips through
the real writer and reader, several blocks, time ranges that decode only the blocks they meet,
the file's SQL views, and schema-2 files (spans and wakeups as rows) read with the same figures."""

from __future__ import annotations

import random
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from stax.blocked_reason import BlockedReason
from stax.events import OffCpuInterval, ThreadName, Wakeup
from stax.recording import event_tables, sample_sql
from stax.recording.event_blocks import BLOCK_ROWS
from stax.recording.reader import Recording, SampleFilter
from stax.recording.writer import RecordingBuilder
from tests.core.recording.event_block_edits import as_version_2
from tests.core.recording.test_recording_sample_blocks import STAX

SPANS = 2 * BLOCK_ROWS + 1234
"""Three span blocks (two full, one open) and as many wakeups."""
K = 0xFFFFFFFF81000000
REASONS = [BlockedReason.PIPE_IPC, BlockedReason.LOCK, BlockedReason.PREEMPTED, BlockedReason.SLEEP]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two threads waking each other: a wakeup inside each span, spans arriving by their end."""
    path = tmp_path_factory.mktemp("events") / "rec.stax"
    rng = random.Random(3)
    builder = RecordingBuilder(path)
    events: list[object] = [ThreadName(0, 10, 11, "ping"), ThreadName(0, 10, 12, "pong")]
    t = 1_000_000
    for i in range(SPANS):
        tid = 11 + i % 2
        length = rng.randrange(1_000, 900_000)
        reason = REASONS[i % len(REASONS)]
        if reason is not BlockedReason.PREEMPTED:
            events.append(Wakeup(t + length - 500, i % 2, 10, 23 - tid, 10, tid, (K + i % 7,), ()))
        events.append(OffCpuInterval(t, t + length, 10, tid, i % 2, reason, f"site{i % 3}",
                                     (K + 0x100 + i % 5,), (0x500 + i % 11,)))
        t += length + rng.randrange(1_000, 400_000)  # one span at a time
        if len(events) > 5000:
            builder.consume(events)
            events = []
            builder.commit()  # the open block is written, then rewritten larger
    builder.consume(events)
    builder.finish(symbolicate=False)
    return path


def _loaded(rec: Recording) -> int:
    return len(rec._events._spans or ())  # noqa: SLF001 - which blocks a view made it decode


def test_every_span_and_wakeup_comes_back_in_blocks(written: Path) -> None:
    db = sqlite3.connect(written)
    blocks = db.execute("SELECT id, count FROM span_blocks ORDER BY id").fetchall()
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    assert not {"off_cpu_spans", "wakeups"} & {r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    assert blocks == [(0, BLOCK_ROWS), (1, BLOCK_ROWS), (2, SPANS - 2 * BLOCK_ROWS)]
    rec = Recording.open(written)
    try:
        spans = rec.off_cpu_spans()
        wakeups = rec.wakeups()
        assert len(spans) == rec.off_cpu_span_count() == SPANS
        assert len(wakeups) == sum(1 for i in range(SPANS) if REASONS[i % 4] is not BlockedReason.PREEMPTED)
        for start, end, _, tid, _, reason, site, _, wakeup_id in spans:
            if reason == "preempted":
                assert wakeup_id is None
            else:  # linked as it was written: the wakee's wakeup 500 ns before the end
                woken = wakeups[wakeup_id]
                assert woken[0] == end - 500 and woken[5] == tid, (start, end)
            assert site.startswith("site")
        totals = {(tid, reason): (n, ns) for _, tid, reason, n, ns in rec.thread_off_cpu()}
        for (tid, reason), (n, ns) in totals.items():
            mine = [s for s in spans if s[3] == tid and s[5] == reason]
            assert (n, ns) == (len(mine), sum(s[1] - s[0] for s in mine))
    finally:
        rec.close()


def test_a_time_range_decodes_only_the_blocks_it_meets(written: Path) -> None:
    rec = Recording.open(written)
    everything = Recording.open(written)
    try:
        spans = everything.off_cpu_spans()
        lo, hi = spans[100][0] + 1, spans[300][1]
        flt = SampleFilter(start=lo, end=hi)
        assert rec.off_cpu_spans(flt) == [s for s in spans if s[1] > lo and s[0] < hi]
        assert _loaded(rec) == 1  # the first block only
        wakers = rec.off_cpu_wakers(flt)
        assert sum(row[7] for row in wakers) == sum(
            1 for s in spans if s[1] > lo and s[0] < hi and s[5] != "preempted")
        assert all(row[4] is not None for row in wakers)  # every wakeup found, across blocks
        # the last block's range: the first two are not decoded for it
        late = Recording.open(written)
        tail = SampleFilter(start=spans[-1][0])
        assert late.thread_off_cpu(tail) and _loaded(late) == 1
        late.close()
        assert sorted(rec.thread_off_cpu()) == sorted(everything.thread_off_cpu())
        assert _loaded(rec) == 3
    finally:
        rec.close()
        everything.close()


def test_the_views_of_the_file_give_the_same_rows(written: Path) -> None:
    rec = Recording.open(written)
    try:
        spans = sorted(rec.off_cpu_spans())
        wakeups = rec.wakeups()
    finally:
        rec.close()
    db = sample_sql.connect(written)
    try:
        assert sorted(db.execute("SELECT * FROM off_cpu_spans")) == spans
        assert {r[0]: r[1:] for r in db.execute("SELECT * FROM wakeups")} == wakeups
    finally:
        db.close()
    out = subprocess.run([STAX, "sql", str(written), "SELECT reason, count(*) FROM off_cpu_spans"
                          " GROUP BY reason ORDER BY reason"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1:] == [f"{r}\t{n}" for r, n in sorted(
        (str(reason), sum(1 for s in spans if s[5] == str(reason))) for reason in REASONS)]


def test_version_2_files_read_with_the_same_figures(written: Path, tmp_path: Path) -> None:
    old = tmp_path / "v2.stax"
    shutil.copyfile(written, old)
    as_version_2(old)
    new_rec, old_rec = Recording.open(written), Recording.open(old)
    try:
        assert old_rec.version == 2 and new_rec.version == 3
        flt = SampleFilter(start=new_rec.off_cpu_spans()[5000][0], end=new_rec.off_cpu_spans()[9000][1])
        for view in ("off_cpu_spans", "thread_off_cpu", "off_cpu_stack_totals", "off_cpu_wakers",
                     "wakeup_pairs", "wakeup_stack_pairs", "thread_off_cpu_stack_totals",
                     "off_cpu_time_range"):
            for f in (SampleFilter(), flt):
                got, want = getattr(old_rec, view)(f), getattr(new_rec, view)(f)
                assert (sorted(got) if isinstance(got, list) else got) == (
                    sorted(want) if isinstance(want, list) else want), view
        assert old_rec.wakeups() == new_rec.wakeups()
        assert old_rec.longest_off_cpu_spans(flt, 3) == new_rec.longest_off_cpu_spans(flt, 3)
        assert old_rec.off_cpu_span_count() == new_rec.off_cpu_span_count() == SPANS
    finally:
        new_rec.close()
        old_rec.close()
    tops = [subprocess.run([STAX, "threads", str(p), "--json"], capture_output=True, text=True)
            for p in (old, written)]
    assert [t.returncode for t in tops] == [0, 0], tops[0].stderr
    assert tops[0].stdout.replace(str(old), "REC") == tops[1].stdout.replace(str(written), "REC")


def test_a_damaged_span_block_is_one_sentence(written: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.stax"
    shutil.copyfile(written, broken)
    db = sqlite3.connect(broken)
    with db:
        db.execute("UPDATE span_blocks SET data = substr(data, 1, length(data) - 9) WHERE id = 1")
    db.close()
    rec = Recording.open(broken)
    try:
        with pytest.raises(Exception) as caught:
            rec.thread_off_cpu()
        assert str(caught.value) == (f"{broken} is damaged: off-CPU span block 1 is longer or shorter"
                                     f" than its {BLOCK_ROWS} off-CPU spans; record it again.")
    finally:
        rec.close()


def test_event_tables_module_names_the_temp_tables() -> None:
    """The reader's TEMP tables have the columns of the old tables, so the views' SQL is unchanged."""
    db = sqlite3.connect(":memory:")
    tables = event_tables.EventTables(Path("x.stax"), db)
    db.executescript("CREATE TABLE span_blocks (id, first_time, last_time, count, sites, data);"
                     "CREATE TABLE wakeup_blocks (id, first_id, first_time, last_time, count, data);")
    tables.load_all()
    columns = [r[1] for r in db.execute("PRAGMA temp.table_info(off_cpu_spans)")]
    assert columns == ["start", "end", "pid", "tid", "cpu", "reason", "wait_site", "stack_id", "wakeup_id"]
