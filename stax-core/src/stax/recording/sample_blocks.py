"""Columnar sample blocks: how on-CPU samples are stored since schema 2 (~2-3 bytes a sample).

A row of ``sample_blocks`` holds up to :data:`BLOCK_SAMPLES` samples as one zlib stream
(docs/recording-format.md, "sample_blocks", is the normative description).  Inside, the
six columns follow one another, each a one-byte tag and its values:

* tag ``0`` (constant): 8 bytes, the one value of every sample (signed 64-bit, little-endian);
* tag ``1`` (planes): ``count`` signed 64-bit little-endian values, byte-shuffled: the
  first byte of every value, then the second byte of every value, ... the eighth;
* tag ``2`` (delta planes): as tag 1, but the lanes are the ``count``-digit difference
  ``T - T * 2**64`` modulo ``2**(64 * count)`` of the column read as one big number
  ``T = sum(t[i] * 2**(64 * i))`` (``t`` as unsigned 64-bit): lane ``i`` is
  ``t[i] - t[i-1]`` (``t[-1] = 0``) with the borrows of a multi-digit subtraction, so
  for times that never go backwards it is plainly the gap to the previous sample.

Why this shape, measured on 999 Hz and 20 kHz recordings of examples/hotspots.c: times
are the only column with entropy (the timer's jitter), so they are delta-coded; the
others repeat, and byte planes turn them into long runs zlib takes to nearly nothing.
The whole column goes through C-level operations (one big-integer subtraction for the
deltas, ``bytes`` slicing for the planes, zlib), never a Python loop per sample, so
encoding costs ~0.1-0.2 us a sample, less than SQLite spent inserting the rows of
schema 1.  zlib is the codec because every Python has it; plain ``sqlite3`` cannot
decode it, which is why stax registers :data:`ROWS_FUNCTION` (stax.recording.sample_sql).
"""

from __future__ import annotations

import zlib
from array import array
from pathlib import Path

import attrs

from stax.recording.sample_totals import is_constant
from stax.recording.schema import BLOCK_SAMPLES
from stax.recording.validation import damaged
from stax.stack_table import SampleColumns

# BLOCK_SAMPLES (schema.py), samples per block at most: a time-range filter decodes at most
# two partial blocks, and zlib keeps ~95% of what 64k-sample blocks save.  A commit writes
# a smaller last block.

COLUMNS = ("time", "pid", "tid", "cpu", "stack_id", "weight")
CONSTANT, PLANES, DELTA_PLANES = 0, 1, 2
WIDTH = 8
ZLIB_LEVEL = 1
"""zlib's fastest level: level 6 saves ~0.25 byte a sample more and takes twice as long."""

_LANE = 1 << 64


@attrs.frozen(slots=True)
class EncodedBlock:
    """One ``sample_blocks`` row: the time bounds filters use, and the zlib stream."""

    first_time: int
    last_time: int
    count: int
    data: bytes


def encode(cols: SampleColumns) -> EncodedBlock:
    """One block of ``cols`` (at least one sample, at most :data:`BLOCK_SAMPLES`)."""
    n = len(cols)
    times = cols.time.tobytes()
    lanes = _delta_lanes(times, n)
    # every lane below 2**63: the times never go backwards (first and last are the bounds)
    if lanes[WIDTH - 1::WIDTH].translate(None, _LOW_BYTES):
        first, last = min(cols.time), max(cols.time)
    else:
        first, last = cols.time[0], cols.time[-1]
    parts = [bytes((DELTA_PLANES,)), _shuffle(lanes)]
    for column in (cols.pid, cols.tid, cols.cpu, cols.stack_id, cols.weight):
        if is_constant(column):
            parts += (bytes((CONSTANT,)), column[:1].tobytes())
        else:
            parts += (bytes((PLANES,)), _shuffle(column.tobytes()))
    return EncodedBlock(first, last, n, zlib.compress(b"".join(parts), ZLIB_LEVEL))


def decode(path: Path | str, block_id: int, count: object, data: object) -> SampleColumns:
    """The samples of one block, exactly as written; a block that does not decode is damage.

    The zlib stream's checksum catches flipped bits; the length is bounded before
    inflating, so a forged block cannot take more memory than its ``count`` says."""
    if not isinstance(count, int) or not 1 <= count <= BLOCK_SAMPLES:
        raise damaged(path, f"sample block {block_id} says it holds {count!r} samples")
    if not isinstance(data, bytes):
        raise damaged(path, f"sample block {block_id} holds no encoded samples")
    limit = len(COLUMNS) * (1 + count * WIDTH)
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(data, limit)
        complete = inflater.eof and not inflater.unconsumed_tail and not inflater.unused_data
    except zlib.error:
        raise damaged(path, f"sample block {block_id} does not decompress") from None
    if not complete:
        raise damaged(path, f"sample block {block_id} is longer or shorter than its {count} samples")
    columns: list[array] = []
    at = 0
    for name in COLUMNS:
        tag = raw[at] if at < len(raw) else None
        size = WIDTH if tag == CONSTANT else count * WIDTH
        body = raw[at + 1:at + 1 + size]
        if tag not in (CONSTANT, PLANES, DELTA_PLANES):
            raise damaged(path, f"sample block {block_id} has a bad {name} column")
        if len(body) != size:
            raise damaged(path, f"sample block {block_id} is longer or shorter than its {count} samples")
        at += 1 + size
        values = array("q")
        if tag == CONSTANT:
            values.frombytes(body)
            values *= count
        elif tag == PLANES:
            values.frombytes(_unshuffle(body, count))
        else:
            values.frombytes(_prefix_sums(_unshuffle(body, count), count))
        columns.append(values)
    if at != len(raw):
        raise damaged(path, f"sample block {block_id} is longer or shorter than its {count} samples")
    return SampleColumns(*columns)


# -- the byte-level transforms: whole columns, C-level operations only -------------------------

_LOW_BYTES = bytes(range(128))
"""translate() deletes these: what is left of the lanes' top bytes are those >= 0x80."""


def _shuffle(raw: bytes) -> bytes:
    return b"".join(raw[i::WIDTH] for i in range(WIDTH))


def _unshuffle(planes: bytes, n: int) -> bytes:
    out = bytearray(n * WIDTH)
    for i in range(WIDTH):
        out[i::WIDTH] = planes[i * n:(i + 1) * n]
    return bytes(out)


def _delta_lanes(raw: bytes, n: int) -> bytes:
    """``T - T * 2**64`` modulo ``2**(64 n)``: every value minus the one before, as one subtraction."""
    whole = int.from_bytes(raw, "little")
    mask = (1 << (64 * n)) - 1
    return ((whole - ((whole << 64) & mask)) & mask).to_bytes(n * WIDTH, "little")


def _prefix_sums(raw: bytes, n: int) -> bytes:
    """The inverse of :func:`_delta_lanes`: ``D * (1 + 2**64 + ... + 2**(64 (n-1)))``, by doubling."""
    total = int.from_bytes(raw, "little")
    mask = (1 << (64 * n)) - 1
    step = 64
    while step < 64 * n:
        total = (total + (total << step)) & mask
        step *= 2
    return total.to_bytes(n * WIDTH, "little")
