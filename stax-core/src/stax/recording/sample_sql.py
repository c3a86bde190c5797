"""The SQL function behind the ``samples`` view of a schema-2 recording.

Samples are stored in zlib-compressed column blocks (stax.recording.sample_blocks),
which SQLite cannot decode on its own.  The file's ``samples`` view turns each block
into rows with SQLite's own ``json_each`` over ``stax_sample_rows(count, data)``: a
JSON array of ``[time, pid, tid, cpu, stack_id, weight]`` rows.  Python's ``sqlite3``
cannot define table-valued functions, so this scalar function plus ``json_each`` is
how a plain connection gets a real table of samples back (~0.4M rows/s).

Every connection stax opens on a recording registers it (stax.recording.reader), and
:func:`connect` opens any recording with it for ad-hoc SQL.  The ``sqlite3`` shell
has no such function: there ``SELECT ... FROM samples`` fails with "no such function:
stax_sample_rows", while ``sample_blocks`` (count, time bounds) and every other table
read as usual.  stax's own views never go through this: they decode blocks directly.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from stax.recording import sample_blocks

ROWS_FUNCTION = "stax_sample_rows"


def sample_rows(count: object, data: object) -> str:
    """The block's samples as a JSON array of rows; a damaged block fails the query."""
    cols = sample_blocks.decode("the recording", -1, count, data)
    return json.dumps(list(cols.rows()), separators=(",", ":"))


def register(db: sqlite3.Connection) -> None:
    db.create_function(ROWS_FUNCTION, 2, sample_rows, deterministic=True)


def connect(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to a recording on which ``SELECT ... FROM samples`` works."""
    db = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True)
    register(db)
    return db
