"""Rewrite one sample block of a recording, for tests that damage or inspect samples.

Samples live in zlib column blocks (stax.recording.sample_blocks), so plain SQL cannot
change one sample; this decodes a block, lets a test edit the columns, and writes it back
as a valid block (the header's time bounds recomputed unless ``keep_bounds``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from stax.recording import sample_blocks
from stax.stack_table import SampleColumns


def edit_block(path: Path, block_id: int, edit: Callable[[SampleColumns], None],
               keep_bounds: bool = False) -> None:
    db = sqlite3.connect(path)
    try:
        count, data = db.execute("SELECT count, data FROM sample_blocks WHERE id = ?", (block_id,)).fetchone()
        cols = sample_blocks.decode(path, block_id, count, data)
        edit(cols)
        block = sample_blocks.encode(cols)
        with db:
            if keep_bounds:
                db.execute("UPDATE sample_blocks SET count = ?, data = ? WHERE id = ?",
                           (block.count, block.data, block_id))
            else:
                db.execute("UPDATE sample_blocks SET first_time = ?, last_time = ?, count = ?, data = ?"
                           " WHERE id = ?", (block.first_time, block.last_time, block.count, block.data,
                                             block_id))
    finally:
        db.close()


def all_samples(path: Path) -> SampleColumns:
    """Every sample of the file, block after block, as written."""
    out = SampleColumns()
    db = sqlite3.connect(path)
    try:
        for block_id, count, data in db.execute("SELECT id, count, data FROM sample_blocks ORDER BY id"):
            out.extend(sample_blocks.decode(path, block_id, count, data))
    finally:
        db.close()
    return out
