"""Off-CPU spans and wakeups of a recording as plain rows, for tests that damage or age them.

Since schema 3 spans and wakeups live in zlib column blocks (stax.recording.event_blocks),
behind views plain SQL cannot change.  :func:`edit_event_rows` turns them into the row
tables of schema 2, runs a test's SQL on them, and writes them back as valid blocks;
:func:`as_version_2` leaves them as row tables: what a schema-2 stax wrote.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from stax.recording import event_blocks
from stax.recording.event_blocks import SPANS, WAKEUPS
from stax.recording.schema import SCHEMA, V2_EVENTS, compact

_VIEWS = [compact(v) for v in re.findall(r"CREATE VIEW (?:off_cpu_spans|wakeups) AS.*?;", SCHEMA, re.S)]


def _to_rows(db: sqlite3.Connection, path: Path) -> None:
    spans = event_blocks.all_spans(db, path)
    wakeups = event_blocks.all_wakeups(db, path)
    db.execute("DROP VIEW off_cpu_spans")
    db.execute("DROP VIEW wakeups")
    for table in compact(V2_EVENTS).split(";")[:-1]:  # executescript would commit
        db.execute(table)
    db.executemany("INSERT INTO off_cpu_spans VALUES (?,?,?,?,?,?,?,?,?)", zip(*spans, strict=True))
    db.executemany("INSERT INTO wakeups VALUES (?,?,?,?,?,?,?,?)",
                   zip(range(len(wakeups[0])), *wakeups, strict=True))
    db.execute("DELETE FROM span_blocks")
    db.execute("DELETE FROM wakeup_blocks")


def as_version_2(path: Path) -> None:
    """Rewrite ``path`` (schema 3) as schema 2 wrote it: spans and wakeups one row each."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN")
        _to_rows(db, path)
        db.execute("DROP TABLE span_blocks")
        db.execute("DROP TABLE wakeup_blocks")
        db.execute("PRAGMA user_version=2")
        db.execute("COMMIT")
    finally:
        db.close()


def edit_event_rows(path: Path, *statements: str) -> bool:
    """Run ``statements`` on the spans and wakeups as rows and store them back as blocks.

    False (the file unchanged) when the edited rows cannot be blocks at all (text where a
    block holds integers, a duration beyond 64 bits): schema 3 cannot hold that damage."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN")
        _to_rows(db, path)
        for statement in statements:
            db.execute(statement)
        try:
            spans = db.execute("SELECT start, end, pid, tid, cpu, reason, wait_site, stack_id,"
                               f" coalesce(wakeup_id, {event_blocks.NO_WAKEUP}) FROM off_cpu_spans"
                               " ORDER BY rowid").fetchall()
            wakeups = db.execute("SELECT time, cpu, waker_pid, waker_tid, wakee_pid, wakee_tid, stack_id"
                                 " FROM wakeups ORDER BY id").fetchall()
            for kind, rows in ((SPANS, spans), (WAKEUPS, wakeups)):
                stream = event_blocks.BlockStream(kind)
                stream.add_rows(rows)
                db.executemany(stream.insert_sql(), stream.block_rows(final=True))
        except (TypeError, OverflowError, ValueError, sqlite3.OperationalError):
            db.execute("ROLLBACK")
            return False
        db.execute("DROP TABLE off_cpu_spans")
        db.execute("DROP TABLE wakeups")
        for view in _VIEWS:
            db.execute(view)
        db.execute("COMMIT")
        return True
    finally:
        db.close()
