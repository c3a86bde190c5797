"""Check a recording's invariants before any view trusts them, so damage is one sentence.

A ``.stax`` file can be truncated, bit-flipped, or edited by someone else; views walk
its stack tree, index arrays by its ids and add up its durations, so a cycle would
hang them, a dangling id crash them and ``end < start`` give silently wrong figures.
Every rule the reader relies on is checked here, and a broken one becomes
:func:`damaged`: "rec.stax is damaged: <what>; record it again."

Checks are placed so that a recording with millions of samples pays no second pass
over them (docs/recording-format.md, "What the reader checks"):

- :func:`check_file` names what a path is when it is not a regular file, without
  opening it (a FIFO would block, ``/dev/zero`` never ends);
- :func:`check_on_open` checks the tables every view reads whole: metadata, images,
  frames, the stack tree (``parent_id < id`` makes cycles impossible and is one scan),
  threads, processes, capabilities, lost counts, and the per-stack sample totals;
- the sample blocks' headers (count, time bounds) are checked on open; each block's
  samples when it is decoded (stax.recording.sample_blocks: the zlib checksum and the
  lengths; :func:`check_samples`: stacks, weights, times inside the block's bounds);
- off-CPU spans and wakeups are checked inside the aggregate queries the views
  run anyway (:func:`checked`): a condition on each group's keys and sums that SQLite
  evaluates once per group; a bad group fails the query and :func:`read_failed` finds
  the row to name;
- :func:`check_part` makes the two checks a group cannot: ``start <= end`` of every span
  (one pass, the first time a view adds up spans) and the counter values;
- the analyses refuse a stack id that is not in the stack table where they walk it
  (:func:`unknown_stack`), so not even a missed check can loop or index out of range.

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
from typing import TYPE_CHECKING

import attrs

from stax.blocked_reason import BlockedReason
from stax.errors import RecordingFormatError
from stax.events import ImageKind
from stax.recording.schema import BLOCK_SAMPLES, SCHEMA, V1_SAMPLES, V2_EVENTS

if TYPE_CHECKING:
    from stax.stack_table import SampleColumns

SCHEMA_TABLES = frozenset(re.findall(r"CREATE TABLE (\w+)", SCHEMA))
"""Every table a recording of this schema has; the writer creates them all at once."""
V2_TABLES = (SCHEMA_TABLES - {"span_blocks", "wakeup_blocks"}
             | frozenset(re.findall(r"CREATE TABLE (\w+)", V2_EVENTS)))
"""Every table of a version-2 recording (spans and wakeups tables, not blocks)."""
V1_TABLES = V2_TABLES - {"sample_blocks"} | frozenset(re.findall(r"CREATE TABLE (\w+)", V1_SAMPLES))
"""Every table of a version-1 recording (samples a table, not blocks)."""

IMAGE_KINDS = tuple(str(kind) for kind in ImageKind)
BLOCKED_REASONS = tuple(str(reason) for reason in BlockedReason)

COUNTERS = "counters"
I64_MAX = (1 << 63) - 1


def damaged(path: Path | str, what: str) -> RecordingFormatError:
    """The one sentence for a broken invariant: the file, what is wrong, what to do."""
    return RecordingFormatError(f"{path} is damaged: {what}; record it again.")


def unknown_stack(path: Path | str, stack_id: object, looped: bool = False) -> RecordingFormatError:
    """A stack id a view walked that is not in the stack table, or a walk that loops.

    The analyses raise it where they walk stacks: the stack ids of samples, spans and
    wakeups are checked there, once per distinct stack, instead of per row on open."""
    if looped:
        return damaged(path, f"stack {_shown(stack_id)} refers to itself through its parents")
    return damaged(path, f"a sample, span or wakeup refers to stack {_shown(stack_id)}, which does"
                         " not exist")


def total_fits(path: Path | str, total: int, what: str) -> None:
    """Views add figures up in 64-bit arrays: a total beyond that is damage, not an overflow."""
    if total > I64_MAX:
        raise damaged(path, f"{what} add up to more than a 64-bit number holds")


def reading_failed(path: Path | str, exc: sqlite3.Error) -> RecordingFormatError:
    """SQLite could not read what it was asked (malformed pages, overflow, bad UTF-8)."""
    message = str(exc)
    if message == "integer overflow":  # a sum over rows that each looked fine
        return damaged(path, "its times or weights add up to more than a 64-bit number holds")
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


def missing_tables(path: Path, tables: Iterable[str], version: int) -> None:
    """A recording of this schema has every table; one missing is damage, not another schema."""
    expected = {1: V1_TABLES, 2: V2_TABLES}.get(version, SCHEMA_TABLES)
    missing = sorted(expected - set(tables))
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
I64 = {"hi": I64_MAX}
"""``x <= :hi`` is false for text, blobs and NULL (they sort after numbers or compare to
nothing): a range test is also a type test."""


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


def _passes(path: Path, db: sqlite3.Connection, table: str, condition: str, params: Params,
            sums: Sequence[str] = (), what: str = "", integers: Sequence[str] = ()) -> bool:
    """One pass over ``table``, all in SQLite: every row meets ``condition`` (NULL fails) and
    the ``sums`` (of values >= 0) are integers that fit in 64 bits.

    ``condition`` bounds every column it names, which text, blobs and NULL fail (they sort
    after numbers); a REAL passes a bound, but makes a sum a REAL, and ``integers`` are
    summed times 0 to tell (0.0, not 0).  This is the cost a valid recording pays; finding
    *which* row is bad is only done when this says one is (``typeof`` per column costs
    several times more per row).
    """
    columns = [f"min(coalesce({condition}, 0))", *(f"sum({c})" for c in sums)]
    if integers:
        columns.append("sum(" + " + ".join(f"{c} * 0" for c in integers) + ")")
    try:
        ok, *totals = db.execute(f"SELECT {', '.join(columns)} FROM {table}", params).fetchone()
    except sqlite3.DatabaseError as exc:
        if "overflow" in str(exc):
            raise damaged(path, f"{what} add up to more than a 64-bit number holds") from None
        raise reading_failed(path, exc) from None
    return ok in (None, 1) and all(total is None or isinstance(total, int) for total in totals)


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
    """Ids 0..n-1 with none missing (the writer numbers rows as it interns them): returns n.

    Three queries, each answered from the b-tree without a scan."""
    count = _rows(path, db, f"SELECT count(*) FROM {table}")[0][0]
    low = _rows(path, db, f"SELECT min(id) FROM {table}")[0][0]
    high = _rows(path, db, f"SELECT max(id) FROM {table}")[0][0]
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


def check_on_open(path: Path, db: sqlite3.Connection, totals: bool, version: int) -> Shape:
    """Check what every view reads; ``totals``: the file has its per-stack sample totals."""
    _check_meta(path, db)
    _check_images(path, db)
    frames = _dense(path, db, "frames", "frame")
    _check_frames(path, db, frames)
    stacks = _dense(path, db, "stacks", "stack")
    _check_stacks(path, db, stacks, frames)
    _check_threads(path, db)
    shape = Shape(stacks, frames)
    if totals:
        _check_sample_totals(path, db, shape)
    if version >= 2:
        _check_sample_blocks(path, db)
    return shape


def _check_sample_blocks(path: Path, db: sqlite3.Connection) -> None:
    """Block headers (one row per 16k samples): a count, ordered integer time bounds, a blob.

    Filters trust the bounds to skip blocks; :func:`check_samples` holds every decoded
    sample to them.  The blobs themselves are checked when a view decodes them."""
    condition = ("count BETWEEN 1 AND :most AND first_time <= last_time AND last_time <= :hi"
                 " AND first_time >= -:hi - 1 AND typeof(data) = 'blob'")
    if _passes(path, db, "sample_blocks", condition, {"most": BLOCK_SAMPLES, **I64}, ("count",),
               "the sample counts", ("first_time", "last_time")):
        return
    bad = _one(path, db, "SELECT id, count, first_time, last_time FROM sample_blocks WHERE NOT " + _all(
        _int("count"), "count BETWEEN 1 AND ?", _int("first_time"), _int("last_time"),
        "first_time <= last_time", "typeof(data) = 'blob'"), (BLOCK_SAMPLES,))
    if bad is None:
        raise damaged(path, "a sample block holds a value out of range")
    block, count, first, last = bad
    if not isinstance(count, int) or not 1 <= count <= BLOCK_SAMPLES:
        raise damaged(path, f"sample block {_shown(block)} says it holds {_shown(count)} samples")
    if isinstance(first, int) and isinstance(last, int) and first > last:
        raise damaged(path, f"sample block {_shown(block)} ends before it starts ({last} < {first})")
    raise damaged(path, f"sample block {_shown(block)} holds a value of the wrong type")


def check_samples(path: Path, cols: SampleColumns, shape: Shape, block: int | None,
                  bounds: tuple[int, int] | None) -> None:
    """Decoded samples (always integers): existing stacks, weights >= 0, and times inside
    their block's bounds (which filters skip blocks by).  A few C-level passes per block."""
    where = f"sample block {block}" if block is not None else "a sample"
    if not len(cols):
        return
    low, high = min(cols.stack_id), max(cols.stack_id)
    if low < -1 or high >= shape.stacks:
        bad = low if low < -1 else high
        raise damaged(path, f"{where} refers to stack {bad}, which does not exist")
    lightest = min(cols.weight)
    if lightest < 0:
        raise damaged(path, f"{where} has a negative weight ({lightest} ns)")
    if bounds is not None and (min(cols.time) < bounds[0] or max(cols.time) > bounds[1]):
        raise damaged(path, f"{where} holds a sample outside its time bounds")


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
    """Frames point at images and hold integers and text (every view reads all of them)."""
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
    if _passes(path, db, "stacks", "parent_id >= -1 AND parent_id < id AND frame_id >= 0"
               " AND frame_id < :frames", {"frames": frames}, integers=("parent_id", "frame_id")):
        return
    bad = _one(path, db, "SELECT id, parent_id, frame_id FROM stacks WHERE NOT " + _all(
        _int("parent_id"), "parent_id >= -1", "parent_id < id",
        _int("frame_id"), "frame_id >= 0", "frame_id < ?"), (frames,))
    if bad is None:
        raise damaged(path, "the stack table holds a value out of range")
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
    _utf8(path, db, "capabilities", "capability", ("capability", "status", "reason", "fix"),
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
    _passes(path, db, "lost", "1", {}, ("count",), "the lost-record counts")


# -- as views read them: the large tables -----------------------------------------------------

DAMAGE_FUNCTION = "stax_damaged"
SPANS = "spans"
WAKEUPS = "wakeups"


class DamageSignal:
    """The SQL function ``stax_damaged(kind)``, called by a view's own query for a bad group.

    Samples and spans (millions of rows) are checked inside the aggregate queries the views
    already run: a condition on each group's keys and sums (see :func:`checked`), which
    SQLite evaluates once per group, not per row.  A full second pass
    over the table cost +50% of such a query; the group conditions cost nothing measurable.
    A bad group calls this function, which fails the query; :func:`read_failed` then finds
    the row.
    """

    def __init__(self) -> None:
        self.kind: str | None = None

    def __call__(self, kind: str) -> None:
        self.kind = kind
        raise ValueError(f"damaged {kind}")


def install(db: sqlite3.Connection) -> DamageSignal:
    signal = DamageSignal()
    db.create_function(DAMAGE_FUNCTION, 1, signal)
    return signal


def checked(value: str, kind: str, rules: Iterable[str], per_row: bool = False) -> str:
    """``value`` (an aggregate) when the group meets every rule, else a failed query.

    An aggregate without GROUP BY over no rows is one row of NULLs: nothing to check.
    With ``per_row``, ``value`` is a column and the rules are checked for each row."""
    rules = " AND ".join(f"({r})" for r in rules)
    empty = "" if per_row else "count(*) = 0 OR "
    return f"CASE WHEN {empty}coalesce({rules}, 0) THEN {value} ELSE {DAMAGE_FUNCTION}('{kind}') END"


def _ids(columns: Iterable[str]) -> list[str]:
    return [_int(c) for c in columns]


def _stack_rule(column: str, stacks: int, nullable: bool = False) -> str:
    rule = f"{_int(column)} AND {column} BETWEEN -1 AND {stacks - 1}"
    return f"{column} IS NULL OR ({rule})" if nullable else rule


def span_rules(shape: Shape, ids: Iterable[str] = (), stack: str | None = None,
               prefix: str = "") -> list[str]:
    """A group of off-CPU spans: integer keys, an existing stack, a known reason, a sum that
    is an integer (a REAL anywhere makes it a REAL).  ``start <= end`` in every span is the
    one rule a group cannot show without another aggregate per row: :func:`check_part`
    tests it once per recording (cheaper than an aggregate in each of a view's queries)."""
    reasons = ", ".join(f"'{r}'" for r in BLOCKED_REASONS)  # enum values: no quotes inside
    return [*_ids(ids), *([_stack_rule(stack, shape.stacks)] if stack else ()),
            f"{prefix}reason IN ({reasons})", f"typeof(sum({prefix}end - {prefix}start)) = 'integer'"]


def span_row_rules(shape: Shape) -> list[str]:
    """One off-CPU span read as a row (a timeline): the group rules, for a group of one."""
    reasons = ", ".join(f"'{r}'" for r in BLOCKED_REASONS)
    return [*_ids(("pid", "tid", "start", "end")), _stack_rule("stack_id", shape.stacks),
            f"reason IN ({reasons})", "start BETWEEN 0 AND end"]


def wakeup_rules(shape: Shape, ids: Iterable[str] = (), stack: str | None = None,
                 nullable: bool = False) -> list[str]:
    """A group of wakeups (or the wakeup ends of spans): integer ids, an existing stack."""
    ids = [f"{c} IS NULL OR {_int(c)}" if nullable else _int(c) for c in ids]
    return [*ids, *([_stack_rule(stack, shape.stacks, nullable)] if stack else ())]


def read_failed(path: Path, db: sqlite3.Connection, shape: Shape, signal: DamageSignal,
                exc: sqlite3.Error) -> RecordingFormatError:
    """The sentence for a failed query: the damage a view's checks found, or SQLite's error."""
    kind, signal.kind = signal.kind, None
    if kind is None:
        return reading_failed(path, exc)
    try:
        if kind == SPANS:
            _find_off_cpu_damage(path, db)
            _find_bad_stack(path, db, "off_cpu_spans", shape, "off-CPU span")
        elif kind == WAKEUPS:
            _find_off_cpu_damage(path, db)
            _find_bad_stack(path, db, "wakeups", shape, "wakeup")
    except RecordingFormatError as found:
        return found
    return damaged(path, f"its {kind} hold values out of range")


def _find_bad_stack(path: Path, db: sqlite3.Connection, table: str, shape: Shape, what: str) -> None:
    bad = _one(path, db, f"SELECT rowid, stack_id FROM {table} WHERE NOT coalesce("
                         f"{_stack_rule('stack_id', shape.stacks)}, 0)")
    if bad:
        raise damaged(path, f"{what} {bad[0]} refers to stack {_shown(bad[1])}, which does not exist")


def check_part(path: Path, db: sqlite3.Connection, part: str) -> None:
    """Check what only some views read, the first time one does: the order of every span's
    times (one pass stopping at the first bad row, ~0.08 us a span) or the counter values."""
    if part == SPANS:
        if _one(path, db, "SELECT 1 FROM off_cpu_spans WHERE NOT coalesce(start >= 0 AND end"
                          " BETWEEN start AND :hi, 0)", I64):
            _find_off_cpu_damage(path, db)
            raise damaged(path, "an off-CPU span has times out of order")
    elif part == COUNTERS:
        _check_counters(path, db)
    else:
        raise ValueError(part)


def _check_sample_totals(path: Path, db: sqlite3.Connection, shape: Shape) -> None:
    """The per-stack totals (one row per thread and stack, checked on open): integer ids,
    an existing stack, counts >= 1, weights >= 0 that add up in 64 bits."""
    what = "sample total"
    condition = ("stack_id >= -1 AND stack_id < :stacks AND weight BETWEEN 0 AND :hi AND pid <= :hi"
                 " AND tid <= :hi AND count BETWEEN 1 AND :hi")
    if _passes(path, db, "sample_totals", condition, {"stacks": shape.stacks, **I64},
               ("weight", "count"), f"the {what} weights", ("stack_id", "pid", "tid")):
        return
    bad = _one(path, db, "SELECT rowid, stack_id, weight, count FROM sample_totals WHERE NOT " + _all(
        _int("stack_id"), "stack_id >= -1", "stack_id < :stacks", _int("pid"), _int("tid"),
        _int("weight"), "weight >= 0", _int("count"), "count > 0"), {"stacks": shape.stacks})
    if bad is None:
        raise damaged(path, f"a {what} holds a value out of range")
    row, stack, weight, count = bad
    if not isinstance(stack, int) or not -1 <= stack < shape.stacks:
        raise damaged(path, f"{what} {row} refers to stack {_shown(stack)}, which does not exist")
    if isinstance(weight, int) and weight < 0:
        raise damaged(path, f"{what} {row} has a negative weight ({weight} ns)")
    if isinstance(count, int) and count <= 0:
        raise damaged(path, f"{what} {row} counts {count} samples")
    raise damaged(path, f"{what} {row} holds a value of the wrong type")


def _find_off_cpu_damage(path: Path, db: sqlite3.Connection) -> None:
    """Once a check failed: the span or wakeup to name (``0 <= start <= end``, a known reason,
    an existing wakeup, integer ids).  Full passes, only run on a damaged file."""
    wakeups = _dense(path, db, "wakeups", "wakeup")
    params = {"wakeups": wakeups, **I64}
    if not _passes(path, db, "wakeups", "waker_pid <= :hi AND waker_tid <= :hi AND wakee_pid <= :hi"
                   " AND wakee_tid <= :hi", params):
        bad = _one(path, db, "SELECT id FROM wakeups WHERE NOT " + _all(
            _int("waker_pid"), _int("waker_tid"), _int("wakee_pid"), _int("wakee_tid")))
        raise damaged(path, f"wakeup {bad[0] if bad else '?'} holds a value of the wrong type")
    if not _passes(path, db, "off_cpu_spans",
                   "start >= 0 AND end BETWEEN start AND :hi AND pid <= :hi AND tid <= :hi AND"
                   " (wakeup_id IS NULL OR wakeup_id BETWEEN 0 AND :wakeups - 1)", params,
                   ("end - start",), "the off-CPU span durations"):
        _find_bad_span(path, db, wakeups)
    # a handful of distinct values: cheaper than testing each row against the enum
    for (reason,) in _rows(path, db, "SELECT DISTINCT reason FROM off_cpu_spans"):
        if reason not in BLOCKED_REASONS:
            stored = " stored as bytes" if isinstance(reason, bytes) else ""
            raise damaged(path, f"an off-CPU span has blocked reason {_shown(reason)}{stored}, which is"
                                f" not one of {', '.join(BLOCKED_REASONS)}")


def _find_bad_span(path: Path, db: sqlite3.Connection, wakeups: int) -> None:
    bad = _one(path, db, "SELECT rowid, start, end, wakeup_id FROM off_cpu_spans WHERE NOT " + _all(
        _int("start"), _int("end"), "start >= 0", "end >= start", _int("pid"), _int("tid"),
        "wakeup_id IS NULL OR (typeof(wakeup_id) = 'integer' AND wakeup_id >= 0 AND wakeup_id < ?)"),
        (wakeups,))
    if bad is None:
        raise damaged(path, "an off-CPU span holds a value out of range")
    row, start, end, wakeup = bad
    if isinstance(start, int) and isinstance(end, int) and (end < start or start < 0):
        if end < start:
            raise damaged(path, f"off-CPU span {row} ends before it starts ({end} < {start})")
        raise damaged(path, f"off-CPU span {row} starts at a negative time ({start})")
    if wakeup is not None and not (isinstance(wakeup, int) and 0 <= wakeup < wakeups):
        raise damaged(path, f"off-CPU span {row} refers to wakeup {_shown(wakeup)}, which does not"
                            " exist")
    raise damaged(path, f"off-CPU span {row} holds a value of the wrong type")


def _check_counters(path: Path, db: sqlite3.Connection) -> None:
    """Counter values: a thread, a name and a running total >= 0 (one row per thread and name)."""
    bad = _one(path, db, "SELECT rowid FROM counter_values WHERE NOT " + _all(
        _int("pid"), _int("tid"), _text("name"), _int("value"), "value >= 0", _int("time")))
    if bad:
        raise damaged(path, f"counter value {bad[0]} is not a name and a count")
    for (name,) in _rows(path, db, "SELECT DISTINCT CAST(name AS BLOB) FROM counter_values"):
        try:
            name.decode("utf-8")
        except UnicodeDecodeError:
            raise damaged(path, f"counter name {_shown(name)} is not UTF-8 text") from None
