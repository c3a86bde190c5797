"""Check a recording's invariants before any view trusts them, so damage is one sentence.

A ``.stax`` file can be truncated, bit-flipped, or edited by someone else; views walk
its stack tree, index arrays by its ids and add up its durations, so a cycle would
hang them, a dangling id crash them and ``end < start`` give silently wrong figures.
Every rule the reader relies on is checked here, and a broken one becomes
:func:`damaged`: "rec.stax is damaged: <what>; record it again."

Checks are sized to stay cheap on recordings with millions of samples
(docs/recording-format.md, "What the reader checks"):

- :func:`check_file` names what a path is when it is not a regular file, without
  opening it (a FIFO would block, ``/dev/zero`` never ends);
- :func:`check_on_open` checks the small tables every view reads: metadata, images,
  frames, the stack tree (``parent_id < id`` makes cycles impossible and is one scan),
  threads, processes, capabilities, lost counts, and the per-stack totals;
- :func:`check_part` checks a large table the first time a view reads it: raw samples
  (only read when a killed recorder left no totals), off-CPU spans with their
  wakeups, counter values.  Each is one scan answered in SQLite, stopping at the
  first bad row; no row is brought into Python unless it is bad.

The decoders (:func:`meta_value`, :func:`image_kind`, :func:`build_id`) are the one
place stored text becomes Python values; the reader uses them too, so a value that
slipped past a check still ends as this sentence, not a traceback.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import attrs

from stax.blocked_reason import BlockedReason
from stax.errors import RecordingFormatError
from stax.events import ImageKind
from stax.recording.schema import SCHEMA

SCHEMA_TABLES = frozenset(re.findall(r"CREATE TABLE (\w+)", SCHEMA))
"""Every table a recording of this schema has; the writer creates them all at once."""

IMAGE_KINDS = tuple(str(kind) for kind in ImageKind)
BLOCKED_REASONS = tuple(str(reason) for reason in BlockedReason)

SAMPLES = "samples"
OFF_CPU = "off-CPU"
COUNTERS = "counters"


def damaged(path: Path | str, what: str) -> RecordingFormatError:
    """The one sentence for a broken invariant: the file, what is wrong, what to do."""
    return RecordingFormatError(f"{path} is damaged: {what}; record it again.")


def reading_failed(path: Path | str, exc: sqlite3.Error) -> RecordingFormatError:
    """SQLite could not read what it was asked (malformed pages, overflow, bad UTF-8)."""
    message = str(exc)
    decode = re.match(r"Could not decode to UTF-8 column '([^']*)'", message)
    if decode:
        cause = f"column {_printable(decode.group(1))!r} holds text that is not UTF-8"
    else:
        cause = _printable(message)
    return RecordingFormatError(
        f"{path} is damaged (corrupt or truncated: {cause}); record it again.")


def _printable(text: str, limit: int = 80) -> str:
    """No terminal control characters or runaway lengths from a file in a sentence."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown(raw: object) -> str:
    """A stored value as the sentence shows it: an integer as is, text decoded leniently,
    escaped and quoted."""
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    return repr(_printable(str(raw), 40))


# -- the path --------------------------------------------------------------------------------


def check_file(path: Path) -> None:
    """Refuse a path that is not a readable regular file, saying what it is instead.

    ``stat`` never blocks; opening with O_NONBLOCK then checks that it can be read and
    is still a regular file (a FIFO swapped in after the stat would otherwise hang the
    open).  SQLite opens it by name afterwards.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise RecordingFormatError(
            f"{path} does not exist; record one with `stax record -o {path} -- CMD`.") from None
    except OSError as exc:
        raise RecordingFormatError(f"Cannot read {path} ({exc.strerror}); pass a recording you"
                                   " can read.") from None
    _refuse_non_regular(path, mode)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise RecordingFormatError(f"Cannot read {path} ({exc.strerror}); pass a recording you"
                                   " can read.") from None
    try:
        _refuse_non_regular(path, os.fstat(fd).st_mode)
    finally:
        os.close(fd)


def _refuse_non_regular(path: Path, mode: int) -> None:
    what = None
    if stat.S_ISDIR(mode):
        what = "is a directory"
    elif stat.S_ISFIFO(mode):
        what = "is a FIFO"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        what = "is a device"
    elif stat.S_ISSOCK(mode):
        what = "is a socket"
    elif not stat.S_ISREG(mode):
        what = "is not a regular file"
    if what:
        raise RecordingFormatError(f"{path} {what}, not a recording file; pass the .stax file"
                                   " written by `stax record`.")


def missing_tables(path: Path, tables: Iterable[str]) -> None:
    """A recording of this schema has every table; one missing is damage, not another schema."""
    missing = sorted(SCHEMA_TABLES - set(tables))
    if missing:
        raise damaged(path, f"its table {missing[0]!r} is missing")


# -- decoders: stored text -> Python values, in one place -------------------------------------


def meta_value(path: Path | str, key: object, raw: object) -> object:
    """One metadata value: UTF-8 text holding JSON."""
    name = _shown(key)
    if isinstance(raw, bytes):  # checks read the raw bytes: invalid UTF-8 is named, not a crash
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise damaged(path, f"metadata {name} is not UTF-8 text") from None
    if not isinstance(raw, str):
        raise damaged(path, f"metadata {name} is not text")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise damaged(path, f"metadata {name} is not valid JSON") from None


def image_kind(path: Path | str, image_id: int, raw: object) -> ImageKind:
    try:
        return ImageKind(raw)
    except ValueError:
        raise damaged(path, f"image {image_id} has kind {_shown(raw)}, which is not one of"
                            f" {', '.join(IMAGE_KINDS)}") from None


def build_id(path: Path | str, image_id: int, raw: object) -> bytes | None:
    if raw is None or raw == "":
        return None
    try:
        if not isinstance(raw, str):
            raise ValueError(raw)
        return bytes.fromhex(raw)
    except ValueError:
        raise damaged(path, f"image {image_id} has build id {_shown(raw)}, which is not hex") from None


# -- shared SQL helpers ------------------------------------------------------------------------

Params = tuple[object, ...] | Mapping[str, object]


@attrs.frozen
class Shape:
    """Sizes the ids of the large tables are checked against (ids are dense from 0)."""

    stacks: int
    frames: int


def _rows(path: Path, db: sqlite3.Connection, sql: str, params: Params = ()) -> list[tuple]:
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.DatabaseError as exc:
        raise reading_failed(path, exc) from None


def _one(path: Path, db: sqlite3.Connection, sql: str, params: Params = ()) -> tuple | None:
    rows = _rows(path, db, sql + " LIMIT 1", params)
    return rows[0] if rows else None


def _fits(path: Path, db: sqlite3.Connection, sql: str, what: str) -> None:
    """Figures already known to be >= 0 whose total fits in 64 bits: no sum a view makes overflows."""
    try:
        db.execute(sql).fetchall()
    except sqlite3.DatabaseError as exc:
        if "overflow" in str(exc):
            raise damaged(path, f"{what} add up to more than a 64-bit number holds") from None
        raise reading_failed(path, exc) from None


def _int(column: str) -> str:
    return f"typeof({column}) = 'integer'"


def _int_or_null(column: str) -> str:
    return f"typeof({column}) IN ('integer', 'null')"


def _text(column: str) -> str:
    return f"typeof({column}) = 'text'"


def _text_or_null(column: str) -> str:
    return f"typeof({column}) IN ('text', 'null')"


def _all(*conditions: str) -> str:
    """The conditions joined, in parentheses: ``NOT`` in front of it negates all of them."""
    return "(" + " AND ".join(f"({c})" for c in conditions) + ")"


def _dense(path: Path, db: sqlite3.Connection, table: str, what: str) -> int:
    """Ids 0..n-1 with none missing (the writer numbers rows as it interns them): returns n."""
    count, low, high = _rows(path, db, f"SELECT count(*), min(id), max(id) FROM {table}")[0]
    if count and (low != 0 or high != count - 1):
        gap = _one(path, db, f"SELECT a.id + 1 FROM {table} a WHERE a.id + 1 < (SELECT max(id) FROM"
                             f" {table}) AND NOT EXISTS (SELECT 1 FROM {table} b WHERE b.id = a.id + 1)"
                             " ORDER BY a.id")
        missing = 0 if low != 0 else (gap[0] if gap else high)
        raise damaged(path, f"{what} {missing} is missing (ids are numbered from 0 without gaps)")
    return count


def _utf8(path: Path, db: sqlite3.Connection, table: str, key: str, columns: Sequence[str],
          what: str) -> None:
    """Text of a small table decodes as UTF-8 (read as bytes, so no row is a crash)."""
    select = ", ".join(f"CAST({c} AS BLOB)" for c in columns)
    for row in _rows(path, db, f"SELECT {key}, {select} FROM {table}"):
        for column, value in zip(columns, row[1:], strict=True):
            if value is None:
                continue
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                raise damaged(path, f"the {column} of {what} {_shown(row[0])} is not UTF-8"
                                    " text") from None


# -- on open: the small tables ----------------------------------------------------------------


def check_on_open(path: Path, db: sqlite3.Connection, totals: str) -> Shape:
    """Check what every view reads; ``totals`` is the table views aggregate samples from."""
    _check_meta(path, db)
    _check_images(path, db)
    frames = _dense(path, db, "frames", "frame")
    _check_frames(path, db, frames)
    stacks = _dense(path, db, "stacks", "stack")
    _check_stacks(path, db, stacks, frames)
    _check_threads(path, db)
    shape = Shape(stacks, frames)
    if totals == "sample_totals":
        _check_sample_rows(path, db, "sample_totals", shape)
    return shape


def _check_meta(path: Path, db: sqlite3.Connection) -> None:
    for key, raw, kind in _rows(path, db, "SELECT CAST(key AS BLOB), CAST(value AS BLOB),"
                                          " typeof(value) FROM meta"):
        meta_value(path, key, raw if kind == "text" else None)


def _check_images(path: Path, db: sqlite3.Connection) -> None:
    _utf8(path, db, "images", "id", ("path", "kind", "build_id"), "image")
    marks = ",".join("?" * len(IMAGE_KINDS))
    bad = _one(path, db, f"SELECT id, kind FROM images WHERE kind NOT IN ({marks}) OR NOT"
                         f" {_all(_text('path'), _text_or_null('build_id'), _int_or_null('pid'))}",
               IMAGE_KINDS)
    if bad:
        image_kind(path, bad[0], bad[1])
        raise damaged(path, f"image {bad[0]} has a path, build id or pid of the wrong type")
    for image, raw in _rows(path, db, "SELECT id, build_id FROM images WHERE build_id IS NOT NULL"):
        build_id(path, image, raw)


def _check_frames(path: Path, db: sqlite3.Connection, frames: int) -> None:
    bad = _one(path, db, "SELECT id, image_id FROM frames WHERE image_id NOT IN (SELECT id FROM images)")
    if bad:
        raise damaged(path, f"frame {bad[0]} refers to image {_shown(bad[1])}, which does not exist")
    bad = _one(path, db, "SELECT id FROM frames WHERE NOT " + _all(
        _int("offset"), _int("is_kernel"), _text_or_null("function"), _text_or_null("file"),
        _int_or_null("line")))
    if bad:
        raise damaged(path, f"frame {bad[0]} holds a value of the wrong type")
    bad = _one(path, db, "SELECT frame_id FROM frame_inlines WHERE NOT " + _all(
        _int("frame_id"), "frame_id >= 0", "frame_id < ?", _text("function"), _text_or_null("file"),
        _int_or_null("line")), (frames,))
    if bad:
        raise damaged(path, f"the inlined functions of frame {_shown(bad[0])} are not valid")


def _check_stacks(path: Path, db: sqlite3.Connection, stacks: int, frames: int) -> None:
    """``-1 <= parent_id < id`` for every stack: parents are interned first, so no walk loops."""
    bad = _one(path, db, "SELECT id, parent_id, frame_id FROM stacks WHERE NOT " + _all(
        _int("parent_id"), "parent_id >= -1", "parent_id < id",
        _int("frame_id"), "frame_id >= 0", "frame_id < ?"), (frames,))
    if bad is None:
        return
    stack, parent, frame = bad
    if not isinstance(parent, int) or not -1 <= parent < stacks:
        raise damaged(path, f"stack {stack} refers to parent {_shown(parent)}, which is not a stack")
    if parent >= stack:
        if _loops(path, db, stack, stacks):
            raise damaged(path, f"stack {stack} refers to itself through its parents")
        raise damaged(path, f"stack {stack} has parent {parent}, which was written after it")
    raise damaged(path, f"stack {stack} refers to frame {_shown(frame)}, which does not exist")


def _loops(path: Path, db: sqlite3.Connection, stack: int, stacks: int) -> bool:
    """Only when the order rule is already broken: does following parents come back to ``stack``?"""
    parents = dict(_rows(path, db, "SELECT id, parent_id FROM stacks"))
    at = parents.get(stack)
    for _ in range(stacks):
        if at == stack:
            return True
        if at not in parents:
            return False
        at = parents[at]
    return True  # a longer walk than there are stacks: another loop further up


def _check_threads(path: Path, db: sqlite3.Connection) -> None:
    _utf8(path, db, "threads", "tid", ("name",), "thread")
    _utf8(path, db, "processes", "pid", ("name", "command_line"), "process")
    _utf8(path, db, "capabilities", "rowid", ("capability", "status", "reason", "fix"),
          "capability row")
    _utf8(path, db, "lost", "cpu", ("kind",), "the lost records of CPU")
    bad = _one(path, db, "SELECT pid, tid FROM threads WHERE NOT " + _all(
        _int("pid"), _int("tid"), _text_or_null("name"), _int_or_null("start_time"),
        _int_or_null("end_time")))
    if bad:
        raise damaged(path, f"thread {_shown(bad[1])} of process {_shown(bad[0])} holds a value of"
                            " the wrong type")
    bad = _one(path, db, "SELECT pid FROM processes WHERE NOT " + _all(
        _int_or_null("parent_pid"), _text_or_null("name"), _text_or_null("command_line"),
        _int_or_null("start_time"), _int_or_null("end_time")))
    if bad:
        raise damaged(path, f"process {bad[0]} holds a value of the wrong type")
    bad = _one(path, db, "SELECT capability FROM capabilities WHERE NOT " + _all(
        _text("capability"), _text("status"), _text("reason"), _text("fix")))
    if bad:
        raise damaged(path, f"capability row {_shown(bad[0])} holds a value of the wrong type")
    bad = _one(path, db, "SELECT cpu FROM lost WHERE NOT " + _all(
        _int("cpu"), _text("kind"), _int("count"), "count >= 0"))
    if bad:
        raise damaged(path, f"the lost-record count of CPU {_shown(bad[0])} is not a count")
    _fits(path, db, "SELECT sum(count) FROM lost", "the lost-record counts")


# -- on first use: the large tables ----------------------------------------------------------


def check_part(path: Path, db: sqlite3.Connection, part: str, shape: Shape) -> None:
    """Check one large table (group) the first time a view reads it."""
    if part == SAMPLES:
        _check_sample_rows(path, db, "samples", shape)
    elif part == OFF_CPU:
        _check_off_cpu(path, db, shape)
    elif part == COUNTERS:
        _check_counters(path, db)
    else:
        raise ValueError(part)


def _stack_ok(column: str) -> str:
    return _all(_int(column), f"{column} >= -1", f"{column} < :stacks")


def _check_sample_rows(path: Path, db: sqlite3.Connection, table: str, shape: Shape) -> None:
    """Samples (or their per-stack totals): an existing stack, integer ids, weights >= 0."""
    extra = (_int("time"),) if table == "samples" else (_int("count"), "count > 0")
    count = "count" if table == "sample_totals" else "1"
    bad = _one(path, db, f"SELECT rowid, stack_id, weight, {count} FROM {table} WHERE NOT " + _all(
        _stack_ok("stack_id"), _int("pid"), _int("tid"), _int("weight"), "weight >= 0", *extra),
        {"stacks": shape.stacks})
    what = "sample" if table == "samples" else "sample total"
    if bad is None:
        counts = "" if table == "samples" else ", sum(count)"
        _fits(path, db, f"SELECT sum(weight){counts} FROM {table}", f"the {what} weights")
        return
    row, stack, weight, count = bad
    if not isinstance(stack, int) or not -1 <= stack < shape.stacks:
        raise damaged(path, f"{what} {row} refers to stack {_shown(stack)}, which does not exist")
    if isinstance(weight, int) and weight < 0:
        raise damaged(path, f"{what} {row} has a negative weight ({weight} ns)")
    if isinstance(count, int) and count <= 0:
        raise damaged(path, f"{what} {row} counts {count} samples")
    raise damaged(path, f"{what} {row} holds a value of the wrong type")


def _check_off_cpu(path: Path, db: sqlite3.Connection, shape: Shape) -> None:
    """Spans: ``0 <= start <= end``, a known reason, an existing stack and wakeup; wakeups too."""
    wakeups = _dense(path, db, "wakeups", "wakeup")
    bad = _one(path, db, "SELECT id, stack_id FROM wakeups WHERE NOT " + _all(
        _stack_ok("stack_id"), _int("time"), _int("waker_pid"), _int("waker_tid"),
        _int("wakee_pid"), _int("wakee_tid")), {"stacks": shape.stacks})
    if bad:
        wakeup, stack = bad
        if not isinstance(stack, int) or not -1 <= stack < shape.stacks:
            raise damaged(path, f"wakeup {wakeup} refers to stack {_shown(stack)}, which does not exist")
        raise damaged(path, f"wakeup {wakeup} holds a value of the wrong type")
    reasons = ", ".join(f"'{r}'" for r in BLOCKED_REASONS)  # enum values: no quotes inside
    bad = _one(path, db, "SELECT rowid, start, end, stack_id, CAST(reason AS BLOB), wakeup_id"
                         " FROM off_cpu_spans WHERE NOT " + _all(
        _int("start"), _int("end"), "start >= 0", "end >= start", _int("pid"), _int("tid"),
        _text("reason"), f"reason IN ({reasons})", _text("wait_site"), _stack_ok("stack_id"),
        "(wakeup_id IS NULL OR (typeof(wakeup_id) = 'integer' AND wakeup_id >= 0"
        " AND wakeup_id < :wakeups))"), {"stacks": shape.stacks, "wakeups": wakeups})
    if bad is None:
        _fits(path, db, "SELECT sum(end - start) FROM off_cpu_spans", "the off-CPU span durations")
        return
    row, start, end, stack, reason, wakeup = bad
    if isinstance(start, int) and isinstance(end, int) and (end < start or start < 0):
        if end < start:
            raise damaged(path, f"off-CPU span {row} ends before it starts ({end} < {start})")
        raise damaged(path, f"off-CPU span {row} starts at a negative time ({start})")
    if not isinstance(stack, int) or not -1 <= stack < shape.stacks:
        raise damaged(path, f"off-CPU span {row} refers to stack {_shown(stack)}, which does not exist")
    try:
        known = reason is not None and reason.decode("utf-8") in BLOCKED_REASONS
    except UnicodeDecodeError:
        known = False
    if not known:
        raise damaged(path, f"off-CPU span {row} has blocked reason {_shown(reason)}, which is not"
                            f" one of {', '.join(BLOCKED_REASONS)}")
    if wakeup is not None and not (isinstance(wakeup, int) and 0 <= wakeup < wakeups):
        raise damaged(path, f"off-CPU span {row} refers to wakeup {_shown(wakeup)}, which does not"
                            " exist")
    raise damaged(path, f"off-CPU span {row} holds a value of the wrong type")


def _check_counters(path: Path, db: sqlite3.Connection) -> None:
    bad = _one(path, db, "SELECT rowid FROM counter_values WHERE NOT " + _all(
        _int("pid"), _int("tid"), _text("name"), _int("value"), "value >= 0", _int("time")))
    if bad:
        raise damaged(path, f"counter value {bad[0]} is not a name and a count")
    for (name,) in _rows(path, db, "SELECT DISTINCT CAST(name AS BLOB) FROM counter_values"):
        try:
            name.decode("utf-8")
        except UnicodeDecodeError:
            raise damaged(path, f"counter name {_shown(name)} is not UTF-8 text") from None
