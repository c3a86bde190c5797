"""Damaged copies of small real recordings, made deterministically, for the fuzz test.

Two kinds of damage, as a disk, a copy or a hostile user leaves them:

- *targeted*: one SQL change that breaks an invariant the reader relies on (a stack
  cycle, a dangling id, a bad enum, invalid JSON or UTF-8, ``end < start``, a negative
  weight, a huge id, a value of the wrong type).  Each names the views that must
  refuse it as damaged (``scope``);
- *bytes*: truncation at several offsets, byte flips inside pages, zeroed pages, seeded
  so every run damages the same bytes.  Any outcome but a clean view or one sentence
  is a failure.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs

from stax.recording import sample_sql
from stax.stack_table import SampleColumns
from tests.backend_linux.off_cpu.synthetic_off_cpu import write_pingpong_recording
from tests.core.recording.event_block_edits import edit_event_rows
from tests.core.recording.sample_block_edits import edit_block
from tests.render.synthetic_recording import write_recording

SEED = 16
PAGE = 4096

ALL = "all"
"""Every view must refuse the file: the damage is in what every view reads."""
ON_CPU = "on-cpu"
"""Views that aggregate samples must refuse it (off-CPU views do not read them)."""
ON_CPU_STACKS = "on-cpu-stacks"
"""Views that draw sample stacks must refuse it (``threads`` adds up samples, walks no stack)."""
OFF_CPU = "off-cpu"
"""Views that read off-CPU spans must refuse it (the others may show the on-CPU data)."""
OFF_CPU_THREADS = "off-cpu-threads"
"""Views that add up spans per thread must refuse it (annotate adds them up per stack)."""
OFF_CPU_STACKS = "off-cpu-stacks"
"""Views that draw blocked stacks must refuse it."""
WAKEUPS = "wakeups"
"""Views that read wakeups (threads, wakers) must refuse it."""
WAKERS = "wakers"
"""The view that joins spans to the wakeups that ended them (wakers) must refuse it."""
COUNTERS = "counters"
"""Views that read hardware counters (threads) must refuse it."""
FILTERED = "filtered"
"""Views that read raw samples for a selection (``-p``) must refuse it."""
ANY = "any"
"""A clean view or one sentence, either is right."""


@attrs.frozen
class Damaged:
    name: str
    path: Path
    scope: str


# -- base recordings ---------------------------------------------------------------------------


def write_bases(directory: Path) -> dict[str, Path]:
    """An on-CPU recording (threads, kernel frames, inlines, unresolved frames), an off-CPU one
    (spans, wakeups, counters), and that off-CPU one as a killed recorder leaves it (no totals)."""
    on_cpu = write_recording(
        directory / "on-cpu.stax",
        [("main;work;compute", 60, 101), ("main;work;sys_write;vfs_write", 20, 102),
         ("main;fib;fib;fib", 10, 101), ("main;helper", 5, 101), ("main;lost_name", 5, 102)],
        kernel={"sys_write", "vfs_write"},
        inlines={"helper": ("inner_inline", "outer_inline")},
        threads={100: "mixed", 101: "worker-a", 102: "worker-b"},
        unnamed={"lost_name"},
    )
    off_cpu = write_pingpong_recording(directory / "off-cpu.stax")
    killed = directory / "killed.stax"
    shutil.copyfile(off_cpu, killed)
    _sql(killed, "DELETE FROM sample_totals", "DELETE FROM meta WHERE key = 'sample_totals'")
    return {"on-cpu": on_cpu, "off-cpu": off_cpu, "killed": killed}


def _sql(path: Path, *statements: str) -> None:
    db = sqlite3.connect(path)
    try:
        with db:
            for statement in statements:
                db.execute(statement)
    finally:
        db.close()


# -- targeted damage ---------------------------------------------------------------------------

LEAF = "(SELECT max(stack_id) FROM sample_totals)"
"""A stack that samples use (the deepest one): walking it is what every view does."""
LEAF_PARENT = f"(SELECT parent_id FROM stacks WHERE id = {LEAF})"
LEAF_FRAME = f"(SELECT frame_id FROM stacks WHERE id = {LEAF})"
SPAN = "(SELECT min(rowid) FROM off_cpu_spans WHERE reason != 'preempted')"
BIG = 2**62

TOTALS = "sample_totals"

TARGETED: list[tuple[str, str, tuple[str, ...]]] = [
    # the stack prefix tree
    ("stack-self-cycle", ALL, (f"UPDATE stacks SET parent_id = id WHERE id = {LEAF}",)),
    ("stack-two-cycle", ALL, (f"UPDATE stacks SET parent_id = {LEAF} WHERE id = {LEAF_PARENT}",)),
    ("stack-parent-negative", ALL, (f"UPDATE stacks SET parent_id = -7 WHERE id = {LEAF}",)),
    ("stack-parent-missing", ALL, (f"DELETE FROM stacks WHERE id = {LEAF_PARENT}",)),
    ("stack-parent-huge", ALL, (f"UPDATE stacks SET parent_id = {BIG} WHERE id = {LEAF}",)),
    ("stack-parent-real", ALL, (f"UPDATE stacks SET parent_id = 0.5 WHERE id = {LEAF}",)),
    ("stack-parent-text", ALL, (f"UPDATE stacks SET parent_id = 'up' WHERE id = {LEAF}",)),
    ("stack-frame-missing", ALL, (f"UPDATE stacks SET frame_id = 1000000 WHERE id = {LEAF}",)),
    ("stack-frame-negative", ALL, (f"UPDATE stacks SET frame_id = -2 WHERE id = {LEAF}",)),
    ("stack-frame-text", ALL, (f"UPDATE stacks SET frame_id = 'f' WHERE id = {LEAF}",)),
    # frames and images
    ("frame-deleted", ALL, (f"DELETE FROM frames WHERE id = {LEAF_FRAME}",)),
    ("frame-image-missing", ALL, (f"UPDATE frames SET image_id = 777 WHERE id = {LEAF_FRAME}",)),
    ("frame-offset-text", ALL, ("UPDATE frames SET offset = 'zz', function = NULL",)),
    ("frame-function-blob", ALL, (f"UPDATE frames SET function = x'2a' WHERE id = {LEAF_FRAME}",)),
    ("frame-function-utf8", ALL,
     (f"UPDATE frames SET function = CAST(x'6d61ff696e' AS TEXT) WHERE id = {LEAF_FRAME}",)),
    ("frame-inline-blob", ALL, ("UPDATE frame_inlines SET function = x'00ff'",)),
    ("frame-inline-missing", ANY, ("INSERT INTO frame_inlines VALUES (99999, 0, 'ghost', NULL, NULL)",)),
    ("image-kind-bogus", ALL, ("UPDATE images SET kind = 'bogus'",)),
    ("image-kind-integer", ALL, ("UPDATE images SET kind = 3",)),
    ("image-build-id-bad", ALL, ("UPDATE images SET build_id = 'not hex'",)),
    ("image-path-utf8", ALL, ("UPDATE images SET path = CAST(x'2f7573722fff' AS TEXT)",)),
    # metadata
    ("meta-bad-json", ALL, ("UPDATE meta SET value = '{oops' WHERE key = 'sample_count'",)),
    ("meta-extra-bad-json", ALL, ("INSERT INTO meta VALUES ('notes', 'not json at all')",)),
    ("meta-utf8", ALL, ("UPDATE meta SET value = CAST(x'22ff22' AS TEXT) WHERE key = 'sample_count'",)),
    ("meta-value-blob", ALL, ("UPDATE meta SET value = x'7b' WHERE key = 'sample_count'",)),
    ("meta-wrong-types", ANY, ("INSERT OR REPLACE INTO meta VALUES ('notes', '{\"a\": 1}')",
                               "INSERT OR REPLACE INTO meta VALUES ('duration_s', '\"long\"')",
                               "INSERT OR REPLACE INTO meta VALUES ('sample_count', '[1]')")),
    ("capability-reason-blob", ALL,
     ("INSERT OR REPLACE INTO capabilities VALUES ('off-CPU intervals', 'unavailable', x'05', 'f')",)),
    # threads and processes
    ("thread-name-utf8", ALL, ("UPDATE threads SET name = CAST(x'74ff' AS TEXT)",)),
    ("thread-name-blob", ALL, ("UPDATE threads SET name = x'07'",)),
    ("thread-tid-text", ALL,
     ("UPDATE threads SET tid = 'seven' WHERE tid = (SELECT min(tid) FROM threads)",)),
    ("process-command-utf8", ALL, ("UPDATE processes SET command_line = CAST(x'ff' AS TEXT)",)),
    ("process-name-blob", ALL, ("UPDATE processes SET name = x'0102'",)),
    # per-stack totals (what the views aggregate in a finished recording)
    ("totals-stack-missing", ALL, (f"UPDATE {TOTALS} SET stack_id = 1000000 WHERE rowid = 1",)),
    ("totals-stack-negative", ALL, (f"UPDATE {TOTALS} SET stack_id = -5 WHERE rowid = 1",)),
    ("totals-stack-huge", ALL, (f"UPDATE {TOTALS} SET stack_id = {2**63 - 1} WHERE rowid = 1",)),
    ("totals-stack-text", ALL, (f"UPDATE {TOTALS} SET stack_id = 'x' WHERE rowid = 1",)),
    ("totals-weight-negative", ALL, (f"UPDATE {TOTALS} SET weight = -1000000000 WHERE rowid = 1",)),
    ("totals-count-negative", ALL, (f"UPDATE {TOTALS} SET count = -3 WHERE rowid = 1",)),
    ("totals-weight-text", ALL, (f"UPDATE {TOTALS} SET weight = 'heavy' WHERE rowid = 1",)),
    ("totals-pid-text", ALL, (f"UPDATE {TOTALS} SET pid = 'p' WHERE rowid = 1",)),
    ("totals-pid-huge", ANY, (f"UPDATE {TOTALS} SET pid = {2**63 - 1}, tid = {2**63 - 1} WHERE rowid = 1",)),
    ("totals-weight-overflow", ALL, (f"UPDATE {TOTALS} SET weight = {2**63 - 1}",)),
    ("totals-table-dropped", ALL, (f"DROP TABLE {TOTALS}",)),
    # sample block headers: checked on open, whatever a view reads
    ("sample-block-count-zero", ALL, ("UPDATE sample_blocks SET count = 0 WHERE id = 0",)),
    ("sample-block-count-huge", ALL, (f"UPDATE sample_blocks SET count = {BIG} WHERE id = 0",)),
    ("sample-block-bounds-reversed", ALL,
     ("UPDATE sample_blocks SET first_time = last_time + 1 WHERE id = 0",)),
    ("sample-block-time-text", ALL, ("UPDATE sample_blocks SET first_time = 'now' WHERE id = 0",)),
    ("sample-block-data-text", ALL, ("UPDATE sample_blocks SET data = 'zz' WHERE id = 0",)),
    # sample block contents: decoded by the on-CPU views of a killed recording; otherwise the
    # totals answer them and only a selection (its time range) decodes blocks
    ("sample-block-truncated", ON_CPU,
     ("UPDATE sample_blocks SET data = substr(data, 1, length(data) - 9) WHERE id = 0",)),
    ("sample-block-byte-flipped", ON_CPU,
     ("UPDATE sample_blocks SET data = CAST(substr(data, 1, 20) || x'5a' || substr(data, 22) AS BLOB)"
      " WHERE id = 0",)),
    ("sample-block-count-off", ON_CPU, ("UPDATE sample_blocks SET count = count - 1 WHERE id = 0",)),
    # off-CPU spans
    ("span-end-before-start", OFF_CPU,
     (f"UPDATE off_cpu_spans SET end = start - 5000000 WHERE rowid = {SPAN}",)),
    ("span-start-negative", OFF_CPU, (f"UPDATE off_cpu_spans SET start = {-2**63} WHERE rowid = {SPAN}",)),
    ("span-end-huge", OFF_CPU, (f"UPDATE off_cpu_spans SET end = {2**63 - 1}",)),
    ("span-durations-overflow-across-stacks", OFF_CPU_STACKS,  # each group fits, their total not
     (f"UPDATE off_cpu_spans SET start = 0, end = {2**62} WHERE rowid IN (SELECT min(rowid)"
      " FROM off_cpu_spans WHERE reason != 'preempted' GROUP BY stack_id, tid)",)),
    ("totals-weight-overflow-across-stacks", ALL,
     (f"UPDATE {TOTALS} SET weight = {2**62} WHERE rowid <= 3",)),
    ("span-stack-missing", OFF_CPU_STACKS,
     (f"UPDATE off_cpu_spans SET stack_id = 1000000 WHERE rowid = {SPAN}",)),
    ("span-stack-negative", OFF_CPU_STACKS,
     (f"UPDATE off_cpu_spans SET stack_id = -9 WHERE rowid = {SPAN}",)),
    ("span-stack-text", OFF_CPU_STACKS, (f"UPDATE off_cpu_spans SET stack_id = 's' WHERE rowid = {SPAN}",)),
    ("span-reason-bogus", OFF_CPU, (f"UPDATE off_cpu_spans SET reason = 'bogus' WHERE rowid = {SPAN}",)),
    ("span-reason-integer", OFF_CPU, (f"UPDATE off_cpu_spans SET reason = 7 WHERE rowid = {SPAN}",)),
    ("span-reason-utf8", OFF_CPU,
     (f"UPDATE off_cpu_spans SET reason = CAST(x'736cff' AS TEXT) WHERE rowid = {SPAN}",)),
    ("span-wakeup-missing", WAKERS, (f"UPDATE off_cpu_spans SET wakeup_id = 99999 WHERE rowid = {SPAN}",)),
    ("span-end-text", OFF_CPU, (f"UPDATE off_cpu_spans SET end = 'later' WHERE rowid = {SPAN}",)),
    ("span-tid-text", OFF_CPU_THREADS, (f"UPDATE off_cpu_spans SET tid = 'me' WHERE rowid = {SPAN}",)),
    ("span-tid-real", ANY, (f"UPDATE off_cpu_spans SET tid = 0.25 WHERE rowid = {SPAN}",)),
    ("span-stack-real", OFF_CPU_STACKS, (f"UPDATE off_cpu_spans SET stack_id = 1.5 WHERE rowid = {SPAN}",)),
    ("span-end-real", OFF_CPU, (f"UPDATE off_cpu_spans SET end = end + 0.5 WHERE rowid = {SPAN}",)),
    ("span-reason-blob", OFF_CPU, (f"UPDATE off_cpu_spans SET reason = x'736c656570' WHERE rowid = {SPAN}",)),
    ("span-wait-site-utf8", ANY,
     (f"UPDATE off_cpu_spans SET wait_site = CAST(x'ff' AS TEXT) WHERE rowid = {SPAN}",)),
    ("wakeup-stack-real", WAKEUPS, ("UPDATE wakeups SET stack_id = 0.5 WHERE id = 1",)),
    ("totals-stack-real", ALL, (f"UPDATE {TOTALS} SET stack_id = 1.5 WHERE rowid = 1",)),
    ("totals-tid-real", ALL, (f"UPDATE {TOTALS} SET tid = 1.5 WHERE rowid = 1",)),
    # wakeups and counters
    ("wakeup-stack-missing", WAKEUPS, ("UPDATE wakeups SET stack_id = 1000000 WHERE id = 1",)),
    ("wakeup-stack-negative", WAKEUPS, ("UPDATE wakeups SET stack_id = -4 WHERE id = 1",)),
    ("wakeup-waker-text", WAKEUPS, ("UPDATE wakeups SET waker_tid = 'w' WHERE id = 1",)),
    ("counter-value-text", COUNTERS, ("UPDATE counter_values SET value = 'lots'",)),
    ("counter-name-blob", COUNTERS, ("UPDATE counter_values SET name = x'09'",)),
    ("lost-count-text", ALL, ("INSERT INTO lost VALUES (0, 'lost-records', 'many')",)),
    ("lost-kind-utf8", ALL, ("INSERT INTO lost VALUES (1, CAST(x'6cff' AS TEXT), 3)",)),
    # span and wakeup blocks (schema 3): decoded by the views that read them
    ("span-block-sites-bad", OFF_CPU, ("UPDATE span_blocks SET sites = '[oops' WHERE id = 0",)),
    ("span-block-sites-not-text", OFF_CPU, ("UPDATE span_blocks SET sites = '[[1, 2]]' WHERE id = 0",)),
    ("span-block-truncated", OFF_CPU,
     ("UPDATE span_blocks SET data = substr(data, 1, length(data) - 9) WHERE id = 0",)),
    ("span-block-count-off", OFF_CPU, ("UPDATE span_blocks SET count = count - 1 WHERE id = 0",)),
    ("span-block-count-huge", OFF_CPU, (f"UPDATE span_blocks SET count = {BIG} WHERE id = 0",)),
    ("span-block-bounds-narrow", OFF_CPU,
     ("UPDATE span_blocks SET first_time = first_time + 1 WHERE id = 0",)),
    ("wakeup-block-truncated", WAKEUPS,
     ("UPDATE wakeup_blocks SET data = substr(data, 1, length(data) - 9) WHERE id = 0",)),
    ("wakeup-block-first-id-text", WAKEUPS, ("UPDATE wakeup_blocks SET first_id = 'x' WHERE id = 0",)),
    # whole tables
    ("spans-table-dropped", OFF_CPU, ("DROP TABLE span_blocks",)),
    ("stacks-table-empty", ALL, ("DELETE FROM stacks",)),
]


def _set(column: str, index: int | None, value: int) -> Callable[[SampleColumns], None]:
    """An edit of one decoded column: sample ``index`` (every sample when None) set to ``value``."""
    def edit(cols: SampleColumns) -> None:
        values = getattr(cols, column)
        for i in range(len(values)) if index is None else (index,):
            values[i] = value
    return edit


BLOCK_EDITS: list[tuple[str, str, Callable[[SampleColumns], None], bool]] = [
    # valid blocks holding bad values: (name, scope, edit of the decoded columns, keep the bounds)
    ("sample-stack-missing", ON_CPU_STACKS, _set("stack_id", 3, 1000000), False),
    ("sample-stack-negative", ON_CPU_STACKS, _set("stack_id", 3, -9), False),
    ("sample-weight-negative", ON_CPU, _set("weight", 3, -5), False),
    ("sample-weight-overflow", ON_CPU, _set("weight", None, 2**63 - 1), False),
    ("sample-time-outside-bounds", ON_CPU, _set("time", 3, 2**62), True),
]
"""Damage inside a block's columns, which SQL cannot reach (the block is one zlib stream)."""


def targeted(bases: dict[str, Path], directory: Path) -> Iterator[Damaged]:
    """One copy per (base, targeted damage) that applies to the base."""
    for base_name, base in bases.items():
        for name, scope, edit, keep_bounds in BLOCK_EDITS:
            if base_name != "killed":  # the totals answer the views; a selection decodes blocks
                scope = ANY if name == "sample-weight-overflow" else FILTERED
            path = directory / f"{base_name}.{name}.stax"
            shutil.copyfile(base, path)
            edit_block(path, 0, edit, keep_bounds)
            yield Damaged(f"{base_name}/{name}", path, scope)
    for base_name, base in bases.items():
        tables = _tables(base)
        counts = {t: _count(base, t) for t in tables}
        for name, scope, statements in TARGETED:
            if base_name == "killed" and not name.startswith(("sample-", "span-")):
                continue  # the same checks on open as the off-CPU recording: run once
            changed = " ".join(s for s in statements if s.startswith(("UPDATE", "DELETE")))
            if any(not counts[t] for t in _mentioned(changed, tables)):
                continue  # nothing there to damage (a killed recording has no totals rows)
            if name.startswith("sample-") and base_name != "killed" and scope in (ON_CPU, ON_CPU_STACKS):
                scope = FILTERED  # the totals answer the views; a selection decodes blocks
            needs_spans = scope in (OFF_CPU, OFF_CPU_THREADS, OFF_CPU_STACKS, WAKEUPS, WAKERS, COUNTERS)
            if needs_spans and not counts.get("off_cpu_spans"):
                continue
            path = directory / f"{base_name}.{name}.stax"
            shutil.copyfile(base, path)
            if _mentioned(changed, {"off_cpu_spans", "wakeups"}):
                if not edit_event_rows(path, *statements):
                    continue  # damage column blocks cannot hold (text where integers are)
            else:
                try:
                    _sql(path, *statements)
                except sqlite3.IntegrityError:
                    continue
            yield Damaged(f"{base_name}/{name}", path, scope)


def _tables(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    finally:
        db.close()


def _count(path: Path, table: str) -> int:
    db = sample_sql.connect(path)  # the views of spans and wakeups decode through its functions
    try:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        db.close()


def _mentioned(sql: str, tables: set[str]) -> list[str]:
    words = set(sql.replace("(", " ").replace(")", " ").replace(",", " ").split())
    return [t for t in tables if t in words]


# -- byte damage -------------------------------------------------------------------------------


def byte_damage(bases: dict[str, Path], directory: Path, flips: int = 14,
                truncations: int = 6, seed: int = SEED) -> Iterator[Damaged]:
    """Truncations, byte flips in random pages (the header page included), zeroed pages."""
    rng = random.Random(seed)
    for base_name, base in bases.items():
        data = base.read_bytes()
        pages = max(1, len(data) // PAGE)
        cuts = sorted({0, 50, 100, PAGE, len(data) - 1,
                       *(rng.randrange(PAGE, len(data)) for _ in range(truncations))})
        for cut in cuts:
            yield _write(directory, f"{base_name}.cut{cut}", data[:cut])
        for i in range(flips):
            damaged = bytearray(data)
            page = 0 if i % 7 == 0 else rng.randrange(pages)
            for _ in range(rng.randint(1, 8)):
                at = page * PAGE + rng.randrange(min(PAGE, len(data) - page * PAGE))
                damaged[at] ^= 1 << rng.randrange(8)
            yield _write(directory, f"{base_name}.flip{i}-page{page}", bytes(damaged))
        for i in range(2):
            page = rng.randrange(1, pages)
            damaged = bytearray(data)
            damaged[page * PAGE:(page + 1) * PAGE] = bytes(PAGE)
            yield _write(directory, f"{base_name}.zero{i}-page{page}", bytes(damaged))


def _write(directory: Path, name: str, data: bytes) -> Damaged:
    path = directory / f"{name}.stax"
    path.write_bytes(data)
    return Damaged(name, path, ANY)
