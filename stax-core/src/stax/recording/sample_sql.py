"""The SQL functions behind the ``samples``, ``off_cpu_spans`` and ``wakeups`` views.

Samples are stored in zlib-compressed column blocks (stax.recording.sample_blocks),
which SQLite cannot decode on its own.  The file's ``samples`` view turns each block
into rows with SQLite's own ``json_each`` over ``stax_sample_rows(count, data)``: a
JSON array of ``[time, pid, tid, cpu, stack_id, weight]`` rows.  Python's ``sqlite3``
cannot define table-valued functions, so this scalar function plus ``json_each`` is
how a plain connection gets a real table of samples back (~0.4M rows/s).  Since schema 3
the ``off_cpu_spans`` and ``wakeups`` views do the same over ``span_blocks`` and
``wakeup_blocks`` (stax.recording.event_blocks) with ``stax_span_rows(count, sites,
data)`` and ``stax_wakeup_rows(count, data)``.

Every connection stax opens on a recording registers it (stax.recording.reader), and
:func:`connect` opens any recording with it for ad-hoc SQL.  The ``sqlite3`` shell
has no such function: there ``SELECT ... FROM samples`` fails with "no such function:
stax_sample_rows", while the block tables (count, time bounds) and every other table
read as usual.  stax's own views never go through this: they decode blocks directly.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from stax.recording import event_blocks, sample_blocks

ROWS_FUNCTION = "stax_sample_rows"
SPAN_ROWS_FUNCTION = "stax_span_rows"
WAKEUP_ROWS_FUNCTION = "stax_wakeup_rows"


def sample_rows(count: object, data: object) -> str:
    """The block's samples as a JSON array of rows; a damaged block fails the query."""
    cols = sample_blocks.decode("the recording", -1, count, data)
    return json.dumps(list(cols.rows()), separators=(",", ":"))


def span_rows(count: object, sites: object, data: object) -> str:
    """The block's spans as a JSON array of rows, as stored (a span that ends before it starts
    too, as schema 2's table showed it); a block that does not decode fails the query."""
    cols = event_blocks.decode_spans("the recording", -1, count, sites, data, times_checked=False)
    return json.dumps(list(zip(*cols, strict=True)), separators=(",", ":"))


def wakeup_rows(count: object, data: object) -> str:
    """The block's wakeups as a JSON array of rows (their ids are the view's)."""
    cols = event_blocks.decode_wakeups("the recording", -1, count, data)
    return json.dumps(list(zip(*cols, strict=True)), separators=(",", ":"))


def register(db: sqlite3.Connection) -> None:
    db.create_function(ROWS_FUNCTION, 2, sample_rows, deterministic=True)
    db.create_function(SPAN_ROWS_FUNCTION, 3, span_rows, deterministic=True)
    db.create_function(WAKEUP_ROWS_FUNCTION, 2, wakeup_rows, deterministic=True)


def connect(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to a recording on which ``SELECT ... FROM samples`` works."""
    db = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True)
    register(db)
    return db
