"""The byte format of every column block: samples (schema 2), off-CPU spans and wakeups (schema 3).

A block is a handful of 64-bit integer columns of the same length, one after the other
in one zlib stream (docs/recording-format.md, "Column blocks", is the normative text).
Each column is a one-byte tag and its values:

* tag ``0`` (constant): 8 bytes, the one value of every row (signed 64-bit, little-endian);
* tag ``1`` (planes): ``count`` signed 64-bit little-endian values, byte-shuffled: the
  first byte of every value, then the second byte of every value, ... the eighth;
* tag ``2`` (delta planes): as tag 1, but the lanes are the ``count``-digit difference
  ``T - T * 2**64`` modulo ``2**(64 * count)`` of the column read as one big number
  ``T = sum(t[i] * 2**(64 * i))`` (``t`` as unsigned 64-bit): lane ``i`` is
  ``t[i] - t[i-1]`` (``t[-1] = 0``) with the borrows of a multi-digit subtraction, so
  for values that never go backwards it is plainly the gap to the previous row.

Why this shape, measured on 999 Hz and 20 kHz recordings of examples/hotspots.c: times
are the only columns with entropy (the timer's jitter, the lengths of waits), so they
are delta-coded; the others repeat, and byte planes turn them into long runs zlib takes
to nearly nothing.  A whole column goes through C-level operations (one big-integer
subtraction for the deltas, ``bytes`` slicing for the planes, zlib), never a Python loop
per row.  zlib is the codec because every Python has it; plain ``sqlite3`` cannot decode
it, which is why stax registers SQL functions for the views (stax.recording.sample_sql).
"""

from __future__ import annotations

import operator
import zlib
from array import array
from collections.abc import Collection, Sequence
from pathlib import Path

from stax.recording.validation import damaged

CONSTANT, PLANES, DELTA_PLANES = 0, 1, 2
WIDTH = 8
ZLIB_LEVEL = 1
"""zlib's fastest level: level 6 saves ~0.25 byte a sample more and takes twice as long."""

_LOW_BYTES = bytes(range(128))
"""translate() deletes these: what is left of the lanes' top bytes are those >= 0x80."""


def encode_columns(columns: Sequence[array], delta: Collection[int] = ()) -> tuple[bytes, bool]:
    """The zlib stream of ``columns`` (signed 64-bit arrays of one length >= 1), and whether
    the delta-coded ones (the indexes in ``delta``) never go backwards (then their first and
    last values are their bounds).  A column of one repeated value is stored once."""
    n = len(columns[0])
    parts: list[bytes] = []
    ordered = True
    for index, column in enumerate(columns):
        if index in delta:
            lanes = delta_lanes(column.tobytes(), n)
            # every lane below 2**63: the column never goes backwards
            ordered = ordered and not lanes[WIDTH - 1::WIDTH].translate(None, _LOW_BYTES)
            parts += (bytes((DELTA_PLANES,)), _shuffle(lanes))
        elif is_constant(column):
            parts += (bytes((CONSTANT,)), column[:1].tobytes())
        else:
            parts += (bytes((PLANES,)), _shuffle(column.tobytes()))
    return zlib.compress(b"".join(parts), ZLIB_LEVEL), ordered


def decode_columns(path: Path | str, what: str, block_id: int, count: object, data: object,
                   names: Sequence[str], most: int) -> list[array]:
    """The columns of one block, exactly as written; a block that does not decode is damage.

    ``what`` names the rows ("sample"), ``most`` bounds ``count``.  The zlib stream's
    checksum catches flipped bits; the length is bounded before inflating, so a forged
    block cannot take more memory than its ``count`` says."""
    if not isinstance(count, int) or not 1 <= count <= most:
        raise damaged(path, f"{what} block {block_id} says it holds {count!r} {what}s")
    if not isinstance(data, bytes):
        raise damaged(path, f"{what} block {block_id} holds no encoded {what}s")
    wrong_length = f"{what} block {block_id} is longer or shorter than its {count} {what}s"
    limit = len(names) * (1 + count * WIDTH)
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(data, limit)
        complete = inflater.eof and not inflater.unconsumed_tail and not inflater.unused_data
    except zlib.error:
        raise damaged(path, f"{what} block {block_id} does not decompress") from None
    if not complete:
        raise damaged(path, wrong_length)
    columns: list[array] = []
    at = 0
    for name in names:
        tag = raw[at] if at < len(raw) else None
        size = WIDTH if tag == CONSTANT else count * WIDTH
        body = raw[at + 1:at + 1 + size]
        if tag not in (CONSTANT, PLANES, DELTA_PLANES):
            raise damaged(path, f"{what} block {block_id} has a bad {name} column")
        if len(body) != size:
            raise damaged(path, wrong_length)
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
        raise damaged(path, wrong_length)
    return columns


def differences(minuend: array, subtrahend: array) -> array:
    """``minuend[i] - subtrahend[i]`` for every row (signed 64-bit arrays of one length).

    One big-integer subtraction when every value and every difference lies in ``[0, 2**63)``
    (times: then no lane borrows from the next, and a lane that did would have its top bit
    set, which is checked); a Python subtraction per row otherwise."""
    n = len(minuend)
    high, low = minuend.tobytes(), subtrahend.tobytes()
    if n and not (high[WIDTH - 1::WIDTH] + low[WIDTH - 1::WIDTH]).translate(None, _LOW_BYTES):
        mask = (1 << (64 * n)) - 1
        lanes = ((int.from_bytes(high, "little") - int.from_bytes(low, "little")) & mask).to_bytes(n * WIDTH,
                                                                                                  "little")
        if not lanes[WIDTH - 1::WIDTH].translate(None, _LOW_BYTES):
            out = array("q")
            out.frombytes(lanes)
            return out
    return array("q", map(operator.sub, minuend, subtrahend))


def is_constant(column: array) -> bool:
    """Every value the same: one byte comparison of the whole column."""
    raw = column.tobytes()
    return raw == raw[:column.itemsize] * len(column)


# -- the byte-level transforms: whole columns, C-level operations only -------------------------

def _shuffle(raw: bytes) -> bytes:
    return b"".join(raw[i::WIDTH] for i in range(WIDTH))


def _unshuffle(planes: bytes, n: int) -> bytes:
    out = bytearray(n * WIDTH)
    for i in range(WIDTH):
        out[i::WIDTH] = planes[i * n:(i + 1) * n]
    return bytes(out)


def delta_lanes(raw: bytes, n: int) -> bytes:
    """``T - T * 2**64`` modulo ``2**(64 n)``: every value minus the one before, as one subtraction."""
    whole = int.from_bytes(raw, "little")
    mask = (1 << (64 * n)) - 1
    return ((whole - ((whole << 64) & mask)) & mask).to_bytes(n * WIDTH, "little")


def _prefix_sums(raw: bytes, n: int) -> bytes:
    """The inverse of :func:`delta_lanes`: ``D * (1 + 2**64 + ... + 2**(64 (n-1)))``, by doubling."""
    total = int.from_bytes(raw, "little")
    mask = (1 << (64 * n)) - 1
    step = 64
    while step < 64 * n:
        total = (total + (total << step)) & mask
        step *= 2
    return total.to_bytes(n * WIDTH, "little")
