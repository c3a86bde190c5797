"""Columnar sample blocks: how on-CPU samples are stored since schema 2 (~2-3 bytes a sample).

A row of ``sample_blocks`` holds up to :data:`BLOCK_SAMPLES` samples as one column
block (stax.recording.column_blocks, the byte format; docs/recording-format.md,
"sample_blocks", is the normative description): the six columns in :data:`COLUMNS`
order, the times delta-coded.  Encoding costs ~0.1-0.2 us a sample, less than SQLite
spent inserting the rows of schema 1.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from stax.recording.column_blocks import decode_columns, encode_columns
from stax.recording.schema import BLOCK_SAMPLES
from stax.stack_table import SampleColumns

# BLOCK_SAMPLES (schema.py), samples per block at most: a time-range filter decodes at most
# two partial blocks, and zlib keeps ~95% of what 64k-sample blocks save.  A commit writes
# a smaller last block.

COLUMNS = ("time", "pid", "tid", "cpu", "stack_id", "weight")


@attrs.frozen(slots=True)
class EncodedBlock:
    """One ``sample_blocks`` row: the time bounds filters use, and the zlib stream."""

    first_time: int
    last_time: int
    count: int
    data: bytes


def encode(cols: SampleColumns) -> EncodedBlock:
    """One block of ``cols`` (at least one sample, at most :data:`BLOCK_SAMPLES`)."""
    data, ordered = encode_columns(cols.columns(), delta=(0,))
    if ordered:  # the times never go backwards: the first and last are the bounds
        first, last = cols.time[0], cols.time[-1]
    else:
        first, last = min(cols.time), max(cols.time)
    return EncodedBlock(first, last, len(cols), data)


def decode(path: Path | str, block_id: int, count: object, data: object) -> SampleColumns:
    """The samples of one block, exactly as written; a block that does not decode is damage."""
    return SampleColumns(*decode_columns(path, "sample", block_id, count, data, COLUMNS, BLOCK_SAMPLES))
