"""``stax sql REC QUERY``: any read-only SQL query over a recording, samples included.

Since schema 2 a recording keeps its samples in zlib column blocks, and its ``samples``
view decodes them through a function stax registers on its connections
(stax.recording.sample_sql); the ``sqlite3`` shell does not have it.  This command opens
the recording as every view does (read-only, checked: a damaged file is one sentence)
and prints the query's rows tab-separated under a line of column names, or ``--json``.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from stax.errors import UsageError
from stax.recording.reader import Recording, SampleFilter
from stax.text_safety import printable

EVERY_SAMPLE = SampleFilter(start=-(1 << 63))
"""A time range that holds every sample: the reader then decodes (and checks) every block."""


def _shown(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return value.hex()
    return printable(str(value))


def sql(
    recording: Path,
    query: str,
    /,
    *,
    json_output: Annotated[bool, Parameter(name="--json", negative="")] = False,
) -> int:
    """Run a read-only SQL query on a recording (tables in docs/recording-format.md).

    Parameters
    ----------
    recording
        The .stax file.
    query
        One SQL statement, e.g. "select tid, count(*) from samples group by tid".
    json_output
        Print a JSON list of objects (column -> value; blobs as hex) instead of a table.
    """
    rec = Recording.open(recording)
    try:
        try:
            cursor = rec.db.execute(query)
            rows = cursor.fetchall()
        except (sqlite3.Error, sqlite3.Warning) as exc:
            if "user-defined function raised exception" in str(exc):
                rec.time_range(EVERY_SAMPLE)  # a block the view could not decode: name it
            raise UsageError(f"The query failed ({printable(str(exc))}); the tables and the samples"
                             " view are described in docs/recording-format.md.") from None
        columns = [d[0] for d in cursor.description or ()]
    finally:
        rec.close()
    if json_output:
        print(json.dumps([{c: v.hex() if isinstance(v, bytes) else v
                           for c, v in zip(columns, row, strict=True)} for row in rows], indent=2))
        return 0
    if columns:
        print("\t".join(printable(c) for c in columns))
    for row in rows:
        print("\t".join(_shown(v) for v in row))
    return 0
