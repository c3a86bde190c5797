"""The decoded spans and wakeups of a schema-3 recording, as tables the reader's SQL reads.

The views of spans and wakeups are SQL aggregates (per thread, stack, reason, waker),
each with its damage checks inside (stax.recording.validation.checked), written when
spans and wakeups were tables.  Since schema 3 they live in column blocks
(stax.recording.event_blocks); rather than a second implementation of every view, the
reader decodes the blocks a view needs into TEMP tables of the old names and columns,
which shadow the file's views of the same names on that connection only (SQLite looks
names up in ``temp`` first).  A block is decoded once per connection, and a time range
decodes only the blocks whose bounds meet it; the views' own WHERE clauses then select
the rows, as they did in the tables.  ``stax sql`` opens its own connection without
them, so a user's query reads the file's views and sees every row.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from stax.recording import event_blocks
from stax.recording.validation import damaged, reading_failed

_SPANS = ("CREATE TEMP TABLE off_cpu_spans (start INTEGER, end INTEGER, pid INTEGER, tid INTEGER,"
          " cpu INTEGER, reason TEXT, wait_site TEXT, stack_id INTEGER, wakeup_id INTEGER)")
_WAKEUPS = ("CREATE TEMP TABLE wakeups (id INTEGER PRIMARY KEY, time INTEGER, cpu INTEGER,"
            " waker_pid INTEGER, waker_tid INTEGER, wakee_pid INTEGER, wakee_tid INTEGER, stack_id INTEGER)")


class EventTables:
    """The span and wakeup blocks one reader connection has decoded so far."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self.db = db
        self._spans: set[int] | None = None  # block ids loaded; None: the table is not made yet
        self._wakeups: set[int] | None = None

    def load_spans(self, start: int | None = None, end: int | None = None) -> None:
        """Decode the span blocks that may hold a span overlapping ``[start, end)`` (None: open)."""
        try:
            self._load_spans(start, end)
        except sqlite3.DatabaseError as exc:  # the blocks' table itself is damaged
            raise reading_failed(self.path, exc) from None

    def load_wakeups(self, start: int | None = None, end: int | None = None) -> None:
        """Decode the wakeup blocks that may hold a wakeup in ``[start, end)`` (None: open)."""
        try:
            self._load_wakeups(start, end)
        except sqlite3.IntegrityError:
            raise damaged(self.path, "two wakeup blocks hold the same wakeup ids") from None
        except sqlite3.DatabaseError as exc:
            raise reading_failed(self.path, exc) from None

    def _load_spans(self, start: int | None, end: int | None) -> None:
        if self._spans is None:
            self.db.execute(_SPANS)
            self._spans = set()
        sql, params = _blocks("SELECT id, first_time, last_time, count, sites, data FROM span_blocks",
                              "last_time >", start, end)
        rows = []
        for block_id, first, last, count, sites, data in self.db.execute(sql, params):
            if block_id not in self._spans:
                cols = event_blocks.decode_spans(self.path, block_id, count, sites, data)
                _within(self.path, "off-CPU span", block_id, first, last, min(cols[0]), max(cols[1]))
                rows.extend(zip(*cols, strict=True))
                self._spans.add(block_id)
        self.db.executemany("INSERT INTO temp.off_cpu_spans VALUES (?,?,?,?,?,?,?,?,?)", rows)

    def _load_wakeups(self, start: int | None, end: int | None) -> None:
        if self._wakeups is None:
            self.db.execute(_WAKEUPS)
            self._wakeups = set()
        sql, params = _blocks("SELECT id, first_time, last_time, first_id, count, data FROM wakeup_blocks",
                              "last_time >=", start, end)
        rows = []
        for block_id, first, last, first_id, count, data in self.db.execute(sql, params):
            if block_id not in self._wakeups:
                cols = event_blocks.decode_wakeups(self.path, block_id, count, data)
                _within(self.path, "wakeup", block_id, first, last, min(cols[0]), max(cols[0]))
                if not isinstance(first_id, int):
                    raise damaged(self.path, f"wakeup block {block_id} has no first id")
                rows.extend(zip(range(first_id, first_id + len(cols[0])), *cols, strict=True))
                self._wakeups.add(block_id)
        self.db.executemany("INSERT INTO temp.wakeups VALUES (?,?,?,?,?,?,?,?)", rows)

    def load_all(self) -> None:
        self.load_spans()
        self.load_wakeups()


def _blocks(select: str, after: str, start: int | None, end: int | None) -> tuple[str, list[int]]:
    """The block rows whose time bounds meet ``[start, end)``: ``after`` compares the last time."""
    where, params = [], []
    if start is not None:
        where.append(f"{after} ?")
        params.append(start)
    if end is not None:
        where.append("first_time < ?")
        params.append(end)
    return select + (" WHERE " + " AND ".join(where) if where else ""), params


def _within(path: Path, what: str, block_id: int, first: object, last: object, low: int, high: int) -> None:
    """A block's rows lie inside the time bounds ranges are filtered by."""
    if not (isinstance(first, int) and isinstance(last, int) and first <= low and high <= last):
        raise damaged(path, f"{what} block {block_id} holds times outside its bounds"
                            f" ({first!r} to {last!r} ns)")
