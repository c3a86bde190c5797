"""Off-CPU spans and wakeups in column blocks: how schema 3 stores them (~1-3 bytes a row).

Schemas 1 and 2 kept a SQLite row per span (~40 bytes) and per wakeup (~30 bytes): on a
recording with off-CPU on, most of the file, and inserting them was a quarter of the
recorder's CPU on a switch-heavy workload.  Now a row of ``span_blocks`` or
``wakeup_blocks`` holds up to :data:`BLOCK_ROWS` of them as one column block
(stax.recording.column_blocks, the byte format; docs/recording-format.md says which
columns, in which order):

* spans: switch-in time (delta-coded: spans arrive as they end), duration (``end -
  start``), pid, tid, cpu, site (an index into the block's ``sites``, its JSON list of
  ``[reason, wait_site]`` pairs), stack id, wakeup gap (0: no wakeup captured; else the
  difference ``d`` to the previous span's wakeup id in the block, stored as ``d`` when
  ``d > 0`` and ``d - 1`` otherwise, the first one to 0);
* wakeups: time (delta-coded), cpu, waker pid, waker tid, wakee pid, wakee tid, stack id;
  a wakeup's id is its block's ``first_id`` plus its place in the block.

Each block row carries its time bounds, so a time range decodes only the blocks it
meets.  :class:`BlockStream` keeps the rows not yet in a block and writes them as the
sample blocks are written: a full block at once, the open one at each commit.
"""

from __future__ import annotations

import json
import sqlite3
from array import array
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import attrs

from stax.recording.column_blocks import decode_columns, differences, encode_columns
from stax.recording.schema import BLOCK_SAMPLES
from stax.recording.validation import damaged

BLOCK_ROWS = BLOCK_SAMPLES
"""Spans or wakeups per block at most: what the sample blocks hold, for the same reasons."""

SPAN_FIELDS = ("start", "end", "pid", "tid", "cpu", "reason", "wait_site", "stack_id", "wakeup_id")
"""The columns of an ``off_cpu_spans`` row, as every schema's view or table has them."""
SPAN_COLUMNS = ("end", "duration", "pid", "tid", "cpu", "site", "stack_id", "wakeup_gap")
"""The columns of a span block, in their stored order."""
WAKEUP_FIELDS = ("time", "cpu", "waker_pid", "waker_tid", "wakee_pid", "wakee_tid", "stack_id")
"""The columns of a ``wakeups`` row but its id, and of a wakeup block, in order."""

Columns = list[list]
"""Rows as columns: one list per field, all of one length."""
NO_WAKEUP = -1
"""A pending span's wakeup id when none was captured inside it (None once decoded)."""


def encode_spans(cols: Columns) -> tuple[int, int, int, str, bytes]:
    """(first_time, last_time, count, sites, data) of one ``span_blocks`` row of ``cols``
    (the :data:`SPAN_FIELDS` columns, at least one span; the integer ones lists or ``array("q")``,
    a wakeup id None or :data:`NO_WAKEUP` where none was captured)."""
    start, end, pid, tid, cpu, reason, wait_site, stack, wakeup = cols
    # the (reason, wait site) pairs in order of first use
    sites = {pair: i for i, pair in enumerate(dict.fromkeys(zip(reason, wait_site, strict=True)))}
    site = array("q", map(sites.__getitem__, zip(reason, wait_site, strict=True)))
    end_a, start_a = array("q", end), array("q", start)  # a copy of each array, a conversion of lists
    duration = differences(end_a, start_a)
    data, _ = encode_columns((end_a, duration, array("q", pid), array("q", tid), array("q", cpu), site,
                              array("q", stack), _wakeup_gaps(wakeup)), delta=(0,))
    return (min(start_a), max(end_a), len(end_a), json.dumps(list(sites), separators=(",", ":")), data)


def decode_spans(path: Path | str, block_id: int, count: object, sites: object, data: object,
                 times_checked: bool = True) -> Columns:
    """The :data:`SPAN_FIELDS` columns of one block; a block that does not decode is damage
    (as is a span that names a site the block does not have, and with ``times_checked`` one
    that ends before it starts: readers refuse it, the writer's passes keep what was captured)."""
    end, duration, pid, tid, cpu, site, stack, gaps = decode_columns(
        path, "off-CPU span", block_id, count, data, SPAN_COLUMNS, BLOCK_ROWS)
    pairs = _sites(path, block_id, sites)
    if times_checked and min(duration) < 0:
        at = duration.index(min(duration))
        raise damaged(path, f"off-CPU span {at} of block {block_id} ends before it starts"
                            f" ({end[at]} < {end[at] - duration[at]})")
    start = differences(end, duration).tolist()
    if times_checked and min(start) < 0:
        at = start.index(min(start))
        raise damaged(path, f"off-CPU span {at} of block {block_id} starts at a negative time ({start[at]})")
    _check_sites(block_id, site, pairs, path)
    reasons = [pairs[i][0] for i in site]
    wait_sites = [pairs[i][1] for i in site]
    return [start, list(end), list(pid), list(tid), list(cpu), reasons, wait_sites, list(stack),
            _wakeup_ids(gaps)]


def _check_sites(block_id: int, site: array, pairs: list[tuple[str, str]], path: Path | str) -> None:
    if min(site) < 0 or max(site) >= len(pairs):
        raise damaged(path, f"off-CPU span block {block_id} names a wait site it does not list")


def _wakeup_gaps(wakeup: Sequence[int | None]) -> array:
    """The wakeup ids as gaps to the previous linked span's: 0 for none, else ``d`` when ``d > 0``
    and ``d - 1`` otherwise (ids mostly grow by 1-3 span after span: ~0.3 byte a span, not 2)."""
    gaps = []
    prev = 0
    for w in wakeup:
        if w is None or w < 0:
            gaps.append(0)
        else:
            d = w - prev
            prev = w
            gaps.append(d if d > 0 else d - 1)
    return array("q", gaps)


def _wakeup_ids(gaps: Sequence[int]) -> list[int | None]:
    out: list[int | None] = []
    prev = 0
    for g in gaps:
        if g == 0:
            out.append(None)
        else:
            prev += g if g > 0 else g + 1
            out.append(prev)
    return out


def _sites(path: Path | str, block_id: int, sites: object) -> list[tuple[str, str]]:
    try:
        pairs = json.loads(sites) if isinstance(sites, str) else None
    except (ValueError, RecursionError):
        pairs = None
    if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs):
        raise damaged(path, f"off-CPU span block {block_id} has a bad list of wait sites")
    return [tuple(p) for p in pairs]


def encode_wakeups(cols: Columns) -> tuple[int, int, int, bytes]:
    """(first_time, last_time, count, data) of one ``wakeup_blocks`` row (its first_id apart)."""
    arrays = [array("q", c) for c in cols]
    data, ordered = encode_columns(arrays, delta=(0,))
    times = arrays[0]
    first, last = (times[0], times[-1]) if ordered else (min(times), max(times))
    return first, last, len(times), data


def decode_wakeups(path: Path | str, block_id: int, count: object, data: object) -> Columns:
    """The :data:`WAKEUP_FIELDS` columns of one block; a block that does not decode is damage."""
    return [list(c) for c in decode_columns(path, "wakeup", block_id, count, data, WAKEUP_FIELDS, BLOCK_ROWS)]


# -- writing ----------------------------------------------------------------------------------------


@attrs.define
class BlockKind:
    """How one kind of row becomes a block row: its table, its fields, its encoder."""

    table: str
    fields: tuple[str, ...]
    encode: Callable[[Columns], tuple]
    numbered: bool
    """The block row starts with ``first_id`` (wakeups: spans name them by id)."""
    texts: tuple[int, ...] = ()
    """The fields that hold strings; the others wait for their block in ``array("q")``, so
    a run's columns are appended and a block's cut out with C-level copies."""


SPANS = BlockKind("span_blocks", SPAN_FIELDS, encode_spans, numbered=False, texts=(5, 6))
WAKEUPS = BlockKind("wakeup_blocks", WAKEUP_FIELDS, encode_wakeups, numbered=True)


class BlockStream:
    """The rows of one kind not yet in a full block, and the blocks written so far.

    A full block is written as soon as it fills; the rest is the open block, written at
    each commit (a killed recorder keeps it) and rewritten, larger, at the next, until it
    is full: slow recordings get full blocks too."""

    def __init__(self, kind: BlockKind) -> None:
        self.kind = kind
        self.pending: list = [[] if i in kind.texts else array("q") for i in range(len(kind.fields))]
        self.count = 0
        """Rows added so far, written or pending."""
        self._blocks = 0  # full blocks written; the open block has this id
        self._open_written = 0  # rows the open block held when last written (-1: a new one)

    def add_rows(self, rows: Iterable[Sequence]) -> None:
        """Rows of :attr:`BlockKind.fields`, in order."""
        before = len(self.pending[0])
        for column, values in zip(self.pending, zip(*rows, strict=True), strict=False):  # no rows: none
            column.extend(values)
        self.count += len(self.pending[0]) - before

    def add_columns(self, columns: Sequence[Iterable]) -> None:
        """Columns of :attr:`BlockKind.fields`, each as long as the others."""
        before = len(self.pending[0])
        for column, values in zip(self.pending, columns, strict=True):
            column.extend(values)
        self.count += len(self.pending[0]) - before

    def full(self) -> bool:
        return len(self.pending[0]) >= BLOCK_ROWS

    def block_rows(self, final: bool) -> list[tuple]:
        """The block rows to write now: full blocks, and with ``final`` (a commit) the open one."""
        pending = len(self.pending[0])
        if not pending or (final and pending == self._open_written):
            return []
        full = pending - pending % BLOCK_ROWS
        rows = []
        first_id = self.count - pending
        for start in range(0, pending if final else full, BLOCK_ROWS):
            cols = [c[start:start + BLOCK_ROWS] for c in self.pending]
            numbered = (first_id + start,) if self.kind.numbered else ()
            rows.append((self._blocks + start // BLOCK_ROWS, *numbered, *self.kind.encode(cols)))
        for column in self.pending:
            del column[:full]
        self._blocks += full // BLOCK_ROWS
        if final:
            self._open_written = len(self.pending[0])
        elif full:
            self._open_written = -1
        return rows

    def insert_sql(self) -> str:
        return f"INSERT OR REPLACE INTO {self.kind.table} VALUES (?,?,?,?,?,?)"


# -- the passes after capture: whole columns out of the blocks and back ---------------------------


def all_wakeups(db: sqlite3.Connection, path: Path | str) -> Columns:
    """Every wakeup of the file being written, as the :data:`WAKEUP_FIELDS` columns in id order."""
    out: Columns = [[] for _ in WAKEUP_FIELDS]
    for block_id, count, data in db.execute("SELECT id, count, data FROM wakeup_blocks ORDER BY id"):
        for mine, theirs in zip(out, decode_wakeups(path, block_id, count, data), strict=True):
            mine.extend(theirs)
    return out


def all_spans(db: sqlite3.Connection, path: Path | str) -> Columns:
    """Every span of the file being written, as the :data:`SPAN_FIELDS` columns in block order
    (as captured: a span a backend closed before it opened is the readers' to refuse)."""
    out: Columns = [[] for _ in SPAN_FIELDS]
    rows = db.execute("SELECT id, count, sites, data FROM span_blocks ORDER BY id")
    for block_id, count, sites, data in rows:
        for mine, theirs in zip(out, decode_spans(path, block_id, count, sites, data, times_checked=False),
                                strict=True):
            mine.extend(theirs)
    return out


SiteKey = tuple[str, str, int]
"""(reason, wait site, stack id): what the finishing passes decide by, one per distinct value."""


def span_times(db: sqlite3.Connection, path: Path | str) -> dict[SiteKey, int]:
    """The off-CPU ns of every span block per distinct (reason, wait site, stack id).

    One pass over the blocks' raw columns (no per-span lists, no start times): the
    finishing passes then work per distinct key (tens) rather than per span (~100k
    on a switch-heavy run)."""
    out: dict[SiteKey, int] = {}
    for block_id, count, sites, data in db.execute("SELECT id, count, sites, data FROM span_blocks"):
        pairs, duration, site, stack = _site_columns(path, block_id, count, sites, data)
        keys = list(zip(site, stack, strict=True))
        totals = dict.fromkeys(keys, 0)
        for key, ns in zip(keys, duration, strict=True):
            totals[key] += ns
        for (i, stack_id), ns in totals.items():
            key = (*pairs[i], stack_id)
            out[key] = out.get(key, 0) + ns
    return out


def rewrite_span_sites(db: sqlite3.Connection, path: Path | str,
                       decide: Callable[[SiteKey], tuple[str, str]]) -> None:
    """Give each span the (reason, wait site) ``decide`` says for its (reason, wait site, stack id).

    ``decide`` is called once per distinct key of a block; only the site column and the
    block's site list change, and only blocks with a changed span are written back, as
    :func:`encode_spans` would have written them (sites in order of first use)."""
    rows = db.execute("SELECT id, count, sites, data FROM span_blocks ORDER BY id").fetchall()
    for block_id, count, sites, data in rows:
        columns = decode_columns(path, "off-CPU span", block_id, count, data, SPAN_COLUMNS, BLOCK_ROWS)
        pairs = _sites(path, block_id, sites)
        _check_sites(block_id, columns[5], pairs, path)
        keys = list(zip(columns[5], columns[6], strict=True))
        new = {key: decide((*pairs[key[0]], key[1])) for key in dict.fromkeys(keys)}
        if all(pairs[i] == pair for (i, _), pair in new.items()):
            continue
        new_pairs = list(map(new.__getitem__, keys))
        order = {pair: i for i, pair in enumerate(dict.fromkeys(new_pairs))}
        columns[5] = array("q", map(order.__getitem__, new_pairs))
        encoded, _ = encode_columns(columns, delta=(0,))
        db.execute("UPDATE span_blocks SET sites = ?, data = ? WHERE id = ?",
                   (json.dumps(list(order), separators=(",", ":")), encoded, block_id))


def _site_columns(path: Path | str, block_id: int, count: object, sites: object,
                  data: object) -> tuple[list[tuple[str, str]], array, array, array]:
    """The site pairs, and the duration, site and stack columns of one span block (checked)."""
    columns = decode_columns(path, "off-CPU span", block_id, count, data, SPAN_COLUMNS, BLOCK_ROWS)
    pairs = _sites(path, block_id, sites)
    _check_sites(block_id, columns[5], pairs, path)
    return pairs, columns[1], columns[5], columns[6]


def rewrite_spans(db: sqlite3.Connection, path: Path | str, change: Callable[[Columns], bool]) -> None:
    """Decode each span block, let ``change`` edit its :data:`SPAN_FIELDS` columns in place
    (it says whether it changed any), and write back the blocks it changed."""
    rows = db.execute("SELECT id, count, sites, data FROM span_blocks ORDER BY id").fetchall()
    for block_id, count, sites, data in rows:
        cols = decode_spans(path, block_id, count, sites, data, times_checked=False)
        if change(cols):
            db.execute("UPDATE span_blocks SET first_time = ?, last_time = ?, count = ?, sites = ?, data = ?"
                       " WHERE id = ?", (*encode_spans(cols), block_id))
