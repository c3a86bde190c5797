"""Open and query a ``.stax`` file, with one-sentence errors for bad files.

The reader is what analyses, renderers and third-party plugins use; it never
needs the recorded program or its binaries.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Callable, Iterable, Iterator
from itertools import compress
from pathlib import Path

import attrs

from stax.capabilities import CapabilityRow
from stax.errors import RecordingFormatError
from stax.events import ImageKind
from stax.recording import sample_blocks, sample_sql, validation
from stax.recording.event_tables import EventTables
from stax.recording.meta_keys import SAMPLE_TOTALS
from stax.recording.sample_totals import GroupTotals
from stax.recording.schema import APPLICATION_ID, OLDEST_READABLE_VERSION, SCHEMA_VERSION, from_sql_u64
from stax.stack_table import Image, SampleColumns


@attrs.frozen(slots=True)
class FrameLabel:
    """How one frame is shown: ``function`` or ``libfoo.so+0x1a2b`` when unresolved."""

    name: str
    image: str
    is_kernel: bool
    resolved: bool
    file: str | None = None
    line: int | None = None
    inlined: tuple[str, ...] = ()
    """Functions inlined at this address, innermost first (shown as frames above it)."""
    is_jit: bool = False
    """In JIT code (an ``ImageKind.JIT`` image: anonymous executable memory)."""


IDLE_TASK_NAME = "swapper"
"""tid 0 is the kernel's idle task (perf's name): no comm event names it, yet it runs on every
idle CPU, and wakeups from interrupts on an idle CPU come from it."""
UNKNOWN_NAME = "?"
"""A thread neither the recording's comm events nor /proc (read at record time) named."""


def thread_label(name: str | None, tid: int | None) -> str:
    """The name shown for thread ``tid``: its recorded name, ``swapper`` for the idle task,
    ``?`` only when nothing named it."""
    if name and name != UNKNOWN_NAME:
        return name
    return IDLE_TASK_NAME if tid == 0 else UNKNOWN_NAME


@attrs.frozen(slots=True)
class ThreadRow:
    pid: int
    tid: int
    name: str
    process_name: str
    start_time: int | None
    end_time: int | None


@attrs.frozen(slots=True)
class SampleFilter:
    """Which samples an analysis looks at; empty means all."""

    pids: frozenset[int] = frozenset()
    tids: frozenset[int] = frozenset()
    comms: frozenset[str] = frozenset()
    start: int | None = None
    """Only what happened at or after this time (ns on the recording's clock): samples taken
    in ``[start, end)``, off-CPU spans overlapping it (their time clipped to it), wakeups in it.
    Counter totals ignore the time range (counters are running totals)."""
    end: int | None = None

    def is_empty(self) -> bool:
        return not (self.pids or self.tids or self.comms or self.has_time_range())

    def has_time_range(self) -> bool:
        return self.start is not None or self.end is not None


class Recording:
    """A read-only view of one ``.stax`` file."""

    def __init__(self, path: Path, db: sqlite3.Connection, version: int = SCHEMA_VERSION) -> None:
        self.path = path
        self.db = db
        self.version = version
        """The file's schema: 1 stored a row per sample, 2 columnar blocks, 3 spans and wakeups in
        blocks too (docs/recording-format.md)."""
        # finished recordings carry per-(thread, stack) totals; a recorder killed before
        # the end left only raw samples, which aggregate the same way, just slower
        try:
            complete = db.execute("SELECT 1 FROM meta WHERE key=?", (SAMPLE_TOTALS,)).fetchone()
        except sqlite3.DatabaseError:
            complete = None
        self._has_totals = complete is not None
        self._shape = validation.Shape(0, 0)  # set by open(), which checks the small tables
        self._checked: set[str] = set()
        # spans are checked by the aggregate queries below (validation.checked), samples as
        # they are decoded (validation.check_samples)
        self._signal = validation.install(db)
        sample_sql.register(db)  # the file's ``samples`` view decodes blocks through it
        self._events = EventTables(path, db) if version >= 3 else None
        """Version 3: the span and wakeup blocks decoded so far, as the tables of versions 1-2."""
        if self._events is not None:
            self._checked.add(validation.SPANS)  # decoding checks every span's times (event_blocks)

    def _check(self, part: str) -> None:
        """Check a table only some views read, the first time one does (stax.recording.validation)."""
        if part not in self._checked:
            validation.check_part(self.path, self.db, part)
            self._checked.add(part)

    @classmethod
    def open(cls, path: str | Path) -> Recording:
        path = Path(path)
        validation.check_file(path)
        db = None
        try:
            # a URI so that mode=ro applies; as_uri() escapes '%', '?' and '#' in the name
            db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            for table in ("samples", "sample_blocks"):  # version 1, version 2
                if table in tables:
                    db.execute(f"SELECT count(*) FROM {table}").fetchone()
        except sqlite3.DatabaseError:
            if db is not None:
                db.close()
            raise RecordingFormatError(
                f"{path} is not a readable stax recording (corrupt or truncated); record it again."
            ) from None
        try:
            if app_id != APPLICATION_ID:
                raise RecordingFormatError(
                    f"{path} is not a stax recording; pass a file written by `stax record`."
                )
            if version > SCHEMA_VERSION:
                raise RecordingFormatError(
                    f"{path} uses recording schema {version}, newer than this stax understands"
                    f" ({SCHEMA_VERSION}); upgrade stax from its repository (README.md, Install)."
                )
            if version < OLDEST_READABLE_VERSION:
                raise RecordingFormatError(
                    f"{path} uses recording schema {version}, which this stax cannot read;"
                    " record it again with this stax."
                )
            validation.missing_tables(path, tables, version)
            recording = cls(path, db, version)
            recording._shape = validation.check_on_open(path, db, recording._has_totals, version)
        except BaseException:
            db.close()
            raise
        return recording

    def close(self) -> None:
        self.db.close()

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[tuple]:
        try:
            return self.db.execute(sql, tuple(params)).fetchall()
        except sqlite3.DatabaseError as exc:
            if self._events is not None and self._signal.kind is not None:
                self._events.load_all()  # finding the damaged row reads every span and wakeup
            raise validation.read_failed(self.path, self.db, self._shape, self._signal, exc) from None

    def _spans_of(self, flt: SampleFilter | None) -> None:
        """Version 3: decode the span blocks ``flt``'s time range meets (the views read them)."""
        if self._events is not None:
            self._events.load_spans(*(() if flt is None else (flt.start, flt.end)))

    def _wakeups_of(self, flt: SampleFilter | None) -> None:
        """Version 3: decode the wakeup blocks ``flt``'s time range meets."""
        if self._events is not None:
            self._events.load_wakeups(*(() if flt is None else (flt.start, flt.end)))

    def _span_check(self, ids: tuple[str, ...] = (), stack: str | None = None,
                    flt: SampleFilter | None = None) -> str:
        """The off-CPU time of a group (clipped to ``flt``'s time range), failing the query when
        the group is damaged."""
        return validation.checked(f"sum({_span_ns(flt)})", validation.SPANS,
                                  validation.span_rules(self._shape, ids, stack))

    def _wakeup_check(self, ids: tuple[str, ...], stack: str | None = None) -> str:
        return validation.checked("count(*)", validation.WAKEUPS,
                                  validation.wakeup_rules(self._shape, ids, stack))

    # -- metadata -------------------------------------------------------------------------------

    def meta(self) -> dict[str, object]:
        return {k: validation.meta_value(self.path, k, v)
                for k, v in self._query("SELECT key, value FROM meta")}

    def capabilities(self) -> list[CapabilityRow]:
        """The backend's capability rows at record time (rows naming a capability unknown here skipped)."""
        rows = (CapabilityRow.from_stored(c, s, r, f)
                for c, s, r, f in self._query("SELECT capability, status, reason, fix FROM capabilities"))
        return [row for row in rows if row is not None]

    def lost(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for kind, count in self._query("SELECT kind, sum(count) FROM lost GROUP BY kind"):
            out[kind] = count
        return out

    def sample_count(self) -> int:
        if self.version == 1:
            return self._query("SELECT count(*) FROM samples")[0][0]
        return self._query("SELECT coalesce(sum(count), 0) FROM sample_blocks")[0][0]

    # -- tables ---------------------------------------------------------------------------------

    def images(self) -> list[Image]:
        return [
            Image(i, path, validation.image_kind(self.path, i, kind),
                  validation.build_id(self.path, i, bid), pid)
            for i, path, kind, bid, pid in self._query(
                "SELECT id, path, kind, build_id, pid FROM images ORDER BY id"
            )
        ]

    def frame_labels(self) -> list[FrameLabel]:
        """One label per frame id (index = frame id)."""
        images = {img.id: img for img in self.images()}
        names = {image_id: img.name for image_id, img in images.items()}
        jit = {image_id for image_id, img in images.items() if img.kind is ImageKind.JIT}
        inlines: dict[int, list[str]] = {}
        for frame_id, function in self._query(
            "SELECT frame_id, function FROM frame_inlines ORDER BY frame_id, depth"
        ):
            inlines.setdefault(frame_id, []).append(function)
        labels: list[FrameLabel] = []
        for frame_id, image_id, offset, is_kernel, function, file, line in self._query(
            "SELECT id, image_id, offset, is_kernel, function, file, line FROM frames ORDER BY id"
        ):
            image = names.get(image_id, "?")
            if function:
                label = FrameLabel(function, image, bool(is_kernel), True, file, line,
                                   tuple(inlines.get(frame_id, ())), image_id in jit)
            else:
                label = FrameLabel(f"{image}+{from_sql_u64(offset):#x}", image, bool(is_kernel),
                                   False, is_jit=image_id in jit)
            labels.append(label)
        return labels

    def inline_details(self) -> dict[int, list[tuple[str, str | None, int | None]]]:
        """frame id -> (function, file, line) of each call inlined at it, innermost first.

        The file and line are where that function is executing (for an outer one: the call
        site of the one inlined into it); :meth:`frame_labels` has them for the real function.
        """
        out: dict[int, list[tuple[str, str | None, int | None]]] = {}
        for frame_id, function, file, line in self._query(
            "SELECT frame_id, function, file, line FROM frame_inlines ORDER BY frame_id, depth"
        ):
            out.setdefault(frame_id, []).append((function, file, line))
        return out

    def stack_arrays(self) -> tuple[array, array]:
        """(parents, frames) of the stack prefix tree, indexed by stack id."""
        parents, frames = array("q"), array("q")
        for parent, frame in self._query("SELECT parent_id, frame_id FROM stacks ORDER BY id"):
            parents.append(parent)
            frames.append(frame)
        return parents, frames

    def threads(self) -> list[ThreadRow]:
        procs = {pid: name for pid, name in self._query("SELECT pid, name FROM processes")}
        return [
            ThreadRow(pid, tid, thread_label(name or procs.get(pid), tid),
                      thread_label(procs.get(pid) or name, tid), start, end)
            for pid, tid, name, start, end in self._query(
                "SELECT pid, tid, name, start_time, end_time FROM threads ORDER BY pid, tid"
            )
        ]

    def processes(self) -> list[dict[str, object]]:
        cols = ("pid", "parent_pid", "name", "command_line", "start_time", "end_time")
        return [dict(zip(cols, row, strict=True)) for row in self._query(
            "SELECT pid, parent_pid, name, command_line, start_time, end_time FROM processes"
        )]

    # -- samples --------------------------------------------------------------------------------

    def _selected_threads(self, flt: SampleFilter) -> tuple[frozenset[int], set[int] | None]:
        """(pids, tids) a filter selects: empty pids = any; tids None = any (comms become tids)."""
        tids = set(flt.tids) if flt.tids else None
        if flt.comms:
            by_comm = {t.tid for t in self.threads()
                       if t.name in flt.comms or t.process_name in flt.comms}
            tids = by_comm if tids is None else tids & by_comm
        return flt.pids, tids

    def _where(self, flt: SampleFilter, times: str | None = "time") -> tuple[str, list[object]]:
        """The WHERE clause of ``flt``; ``times`` names how a row has a time: ``"time"`` (one
        instant: samples, wakeups), ``"span"`` (``start``/``end`` columns: kept when they
        overlap the range) or None (no time: the range is ignored)."""
        clauses: list[str] = []
        params: list[object] = []
        if times is not None and flt.start is not None:
            clauses.append("end > ?" if times == "span" else f"{times} >= ?")
            params.append(flt.start)
        if times is not None and flt.end is not None:
            clauses.append("start < ?" if times == "span" else f"{times} < ?")
            params.append(flt.end)
        if flt.pids:
            clauses.append(f"pid IN ({','.join('?' * len(flt.pids))})")
            params.extend(sorted(flt.pids))
        if flt.tids:
            clauses.append(f"tid IN ({','.join('?' * len(flt.tids))})")
            params.extend(sorted(flt.tids))
        if flt.comms:
            keys = [(t.pid, t.tid) for t in self.threads()
                    if t.name in flt.comms or t.process_name in flt.comms]
            tids = sorted({tid for _, tid in keys}) or [-2]
            clauses.append(f"tid IN ({','.join('?' * len(tids))})")
            params.extend(tids)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def _use_totals(self, flt: SampleFilter) -> bool:
        """The per-(thread, stack) totals answer a filter without a time range (finished files)."""
        return self._has_totals and not flt.has_time_range()

    def _samples(self, flt: SampleFilter) -> Iterator[SampleColumns]:
        """The samples ``flt`` selects, a block at a time, each checked as it is decoded.

        Version 2 reads only the blocks whose time bounds meet the range, and filters
        samples one by one only in the blocks that straddle its edges."""
        if self.version == 1:
            yield from self._v1_samples(flt)
            return
        pids, tids = self._selected_threads(flt)
        lo, hi = flt.start, flt.end
        where, params = [], []
        if lo is not None:
            where.append("last_time >= ?")
            params.append(lo)
        if hi is not None:
            where.append("first_time < ?")
            params.append(hi)
        sql = ("SELECT id, first_time, last_time, count, data FROM sample_blocks"
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id")
        for block_id, first, last, count, data in self._fetch(sql, params):
            cols = sample_blocks.decode(self.path, block_id, count, data)
            validation.check_samples(self.path, cols, self._shape, block_id, (first, last))
            keep: list[bool] | None = None
            if (lo is not None and first < lo) or (hi is not None and last >= hi):
                low = first if lo is None else lo
                high = last + 1 if hi is None else hi
                keep = [low <= t < high for t in cols.time]
            for wanted, column in ((pids or None, cols.pid), (tids, cols.tid)):
                if wanted is not None:
                    chosen = map(wanted.__contains__, column)
                    keep = (list(chosen) if keep is None
                            else [a and b for a, b in zip(keep, chosen, strict=True)])
            if keep is not None:
                cols = SampleColumns(*(array("q", compress(c, keep)) for c in cols.columns()))
            if len(cols):
                yield cols

    def _v1_samples(self, flt: SampleFilter) -> Iterator[SampleColumns]:
        """A version-1 file's sample rows, in chunks of a block, checked like decoded blocks."""
        where, params = self._where(flt)
        rows: list[tuple] = []
        for row in self._fetch(f"SELECT time, pid, tid, cpu, stack_id, weight FROM samples{where}", params):
            rows.append(row)
            if len(rows) == sample_blocks.BLOCK_SAMPLES:
                yield self._v1_columns(rows)
                rows = []
        if rows:
            yield self._v1_columns(rows)

    def _v1_columns(self, rows: list[tuple]) -> SampleColumns:
        try:
            cols = SampleColumns(*(array("q", column) for column in zip(*rows, strict=True)))
        except (TypeError, OverflowError):
            raise validation.damaged(self.path, "a sample holds a value that is not an integer") from None
        validation.check_samples(self.path, cols, self._shape, None, None)
        return cols

    def _fetch(self, sql: str, params: Iterable[object]) -> Iterator[tuple]:
        """Rows of a query, a few thousand at a time (one sentence if SQLite cannot read them)."""
        try:
            cursor = self.db.execute(sql, tuple(params))
            while rows := cursor.fetchmany(4096):
                yield from rows
        except sqlite3.DatabaseError as exc:
            raise validation.reading_failed(self.path, exc) from None

    def _group(self, flt: SampleFilter, keys: Callable[[SampleColumns], Iterable]) -> GroupTotals:
        """Count and weigh the selected samples per key (a time range, or no totals table)."""
        totals = GroupTotals()
        for cols in self._samples(flt):
            totals.add(keys(cols), cols.weight)
        validation.total_fits(self.path, sum(totals.weights.values()), "the sample weights")
        return totals

    def stack_totals(self, flt: SampleFilter = SampleFilter()) -> list[tuple[int, int, int]]:
        """(stack id, sample count, total weight ns) per distinct stack."""
        if self._use_totals(flt):
            where, params = self._where(flt)
            return self._query(
                f"SELECT stack_id, sum(count), sum(weight) FROM sample_totals{where} GROUP BY stack_id",
                params,
            )
        return list(self._group(flt, lambda c: c.stack_id).rows())

    def thread_stack_totals(
        self, flt: SampleFilter = SampleFilter()
    ) -> list[tuple[int, int, int, int, int]]:
        """(pid, tid, stack id, count, weight) per distinct (thread, stack)."""
        if self._use_totals(flt):
            where, params = self._where(flt)
            return self._query(
                f"SELECT pid, tid, stack_id, sum(count), sum(weight) FROM sample_totals{where}"
                " GROUP BY stack_id, tid, pid",  # stack first: the sorter compares fewer keys
                params,
            )
        totals = self._group(flt, lambda c: zip(c.pid, c.tid, c.stack_id, strict=True))
        return [(pid, tid, stack, count, weight) for (pid, tid, stack), count, weight in totals.rows()]

    def thread_totals(self, flt: SampleFilter = SampleFilter()) -> list[tuple[int, int, int, int]]:
        """(pid, tid, count, weight) per thread."""
        if self._use_totals(flt):
            where, params = self._where(flt)
            return self._query(
                f"SELECT pid, tid, sum(count), sum(weight) FROM sample_totals{where} GROUP BY pid, tid",
                params,
            )
        totals = self._group(flt, lambda c: zip(c.pid, c.tid, strict=True))
        return [(pid, tid, count, weight) for (pid, tid), count, weight in totals.rows()]

    def thread_stack_slices(
        self, flt: SampleFilter, origin: int, slice_ns: int
    ) -> list[tuple[int, int, int, int, int, int]]:
        """(slice, pid, tid, stack id, count, weight) per time slice, thread and stack, by slice.

        Slice ``n`` holds the samples taken in ``[origin + n * slice_ns, origin + (n + 1) *
        slice_ns)``: a timeline at that resolution.
        """
        width = max(1, slice_ns)
        totals = self._group(flt, lambda c: zip([(t - origin) // width for t in c.time],
                                                c.pid, c.tid, c.stack_id, strict=True))
        rows = [(*key, count, weight) for key, count, weight in totals.rows()]
        rows.sort(key=lambda row: row[0])
        return rows

    def thread_sample_slices(self, flt: SampleFilter, origin: int, slice_ns: int
                             ) -> list[tuple[int, int, int, int]]:
        """(slice, pid, tid, count) per time slice and thread: sample density over time (the web
        UI's timeline tracks); slice ``n`` covers ``[origin + n * slice_ns, origin + (n + 1) *
        slice_ns)``."""
        width = max(1, slice_ns)
        totals = self._group(flt, lambda c: zip([(t - origin) // width for t in c.time], c.pid, c.tid,
                                                strict=True))
        rows = [(*key, count) for key, count, _ in totals.rows()]
        rows.sort(key=lambda row: row[0])
        return rows

    def time_range(self, flt: SampleFilter = SampleFilter()) -> tuple[int, int] | None:
        """(first, last) sample time in ns, or None when no sample passes ``flt``."""
        if not flt.is_empty():
            bounds = [(min(c.time), max(c.time)) for c in self._samples(flt)]
            if not bounds:
                return None
            return min(b[0] for b in bounds), max(b[1] for b in bounds)
        table = "samples" if self.version == 1 else "sample_blocks"
        low, high = ("time", "time") if self.version == 1 else ("first_time", "last_time")
        first, last = self._query(f"SELECT min({low}), max({high}) FROM {table}")[0]
        if first is None:
            return None
        if not (isinstance(first, int) and isinstance(last, int)):  # no scan to check them first
            raise validation.damaged(self.path, "a sample's time is not a number")
        return first, last

    # -- off-CPU, wakeups, counters ---------------------------------------------------------------

    def off_cpu_stack_totals(
        self, flt: SampleFilter = SampleFilter(), include_preempted: bool = False
    ) -> list[tuple[int, str, int, int]]:
        """(stack id, reason, span count, blocked ns) per distinct (stack, reason).

        Preemptions (runnable waits) are excluded unless asked for: they are not blocked time.
        """
        self._check(validation.SPANS)
        self._spans_of(flt)
        where, params = self._where(flt, "span")
        cond = "" if include_preempted else "reason != 'preempted'"
        if cond:
            where = f"{where} AND {cond}" if where else f" WHERE {cond}"
        ns = self._span_check(stack="stack_id", flt=flt)
        return self._query(
            f"SELECT stack_id, reason, count(*), {ns} FROM off_cpu_spans{where}"
            " GROUP BY stack_id, reason",
            params,
        )

    def thread_off_cpu(self, flt: SampleFilter = SampleFilter()) -> list[tuple[int, int, str, int, int]]:
        """(pid, tid, reason, span count, ns) per thread and reason (preempted included)."""
        self._check(validation.SPANS)
        self._spans_of(flt)
        where, params = self._where(flt, "span")
        ns = self._span_check(ids=("pid", "tid"), flt=flt)
        return self._query(
            f"SELECT pid, tid, reason, count(*), {ns} FROM off_cpu_spans{where}"
            " GROUP BY pid, tid, reason",
            params,
        )

    def off_cpu_spans(self, flt: SampleFilter = SampleFilter()) -> list[tuple]:
        """(start, end, pid, tid, cpu, reason, wait_site, stack_id, wakeup_id) rows, by start.

        With a time range: the spans overlapping it, unclipped."""
        self._spans_of(flt)
        where, params = self._where(flt, "span")
        stack = validation.checked("stack_id", validation.SPANS,
                                   validation.span_row_rules(self._shape), per_row=True)
        return self._query(
            f"SELECT start, end, pid, tid, cpu, reason, wait_site, {stack}, wakeup_id"
            f" FROM off_cpu_spans{where} ORDER BY start",
            params,
        )

    def wakeups(self) -> dict[int, tuple[int, int, int, int, int, int, int]]:
        """id -> (time, cpu, waker_pid, waker_tid, wakee_pid, wakee_tid, stack_id)."""
        self._wakeups_of(None)
        return {
            row[0]: tuple(row[1:])
            for row in self._query(
                "SELECT id, time, cpu, waker_pid, waker_tid, wakee_pid, wakee_tid, stack_id FROM wakeups"
            )
        }

    def counter_totals(self, flt: SampleFilter = SampleFilter()) -> list[tuple[int, int, str, int]]:
        """(pid, tid, counter name, last value) per thread: counters are running totals."""
        self._check(validation.COUNTERS)
        where, params = self._where(flt, None)
        return self._query(
            f"SELECT pid, tid, name, max(value) FROM counter_values{where} GROUP BY pid, tid, name",
            params,
        )

    # -- off-CPU views (per thread and stack; wakers) -------------------------------------------

    def thread_off_cpu_stack_totals(
        self, flt: SampleFilter = SampleFilter(), include_preempted: bool = False
    ) -> list[tuple[int, int, int, str, int, int]]:
        """(pid, tid, stack id, reason, span count, ns) per distinct (thread, stack, reason).

        Preemptions are excluded unless asked for, as in :meth:`off_cpu_stack_totals`.
        """
        self._check(validation.SPANS)
        self._spans_of(flt)
        where, params = self._where(flt, "span")
        if not include_preempted:
            cond = "reason != 'preempted'"
            where = f"{where} AND {cond}" if where else f" WHERE {cond}"
        ns = self._span_check(ids=("pid", "tid"), stack="stack_id", flt=flt)
        return self._query(
            f"SELECT pid, tid, stack_id, reason, count(*), {ns} FROM off_cpu_spans{where}"
            " GROUP BY stack_id, reason, tid, pid",
            params,
        )

    def longest_off_cpu_spans(self, flt: SampleFilter, per_thread: int
                              ) -> list[tuple[int, int, int, int, str, int]]:
        """(start, end, pid, tid, reason, spans of that thread) of each thread's ``per_thread``
        longest off-CPU spans passing ``flt`` (unclipped), preemptions included: a timeline draws
        these, and says how many it left out."""
        self._spans_of(flt)
        where, params = self._where(flt, "span")
        reason = validation.checked("reason", validation.SPANS, validation.span_row_rules(self._shape),
                                    per_row=True)
        return self._query(
            f"SELECT start, end, pid, tid, reason, n FROM (SELECT start, end, pid, tid, {reason} AS reason,"
            " row_number() OVER (PARTITION BY pid, tid ORDER BY end - start DESC) AS r,"
            f" count(*) OVER (PARTITION BY pid, tid) AS n FROM off_cpu_spans{where}) WHERE r <= ?"
            " ORDER BY pid, tid, start",
            [*params, per_thread],
        )

    def off_cpu_time_range(self, flt: SampleFilter = SampleFilter()) -> tuple[int, int] | None:
        """(first switch-out, last switch-in) in ns of the spans passing ``flt`` (clipped to its
        time range), or None."""
        self._spans_of(flt)
        where, params = self._where(flt, "span")
        first, last = self._query(f"SELECT min(start), max(end) FROM off_cpu_spans{where}",
                                  params)[0]
        if first is None:
            return None
        if not (type(first) is int and type(last) is int and 0 <= first <= last):  # noqa: E721
            raise validation.damaged(self.path, f"its off-CPU spans run from {first!r} to {last!r} ns")
        if flt.start is not None:
            first = max(first, flt.start)
        if flt.end is not None:
            last = min(last, flt.end)
        return first, last

    def wakeup_pairs(self, flt: SampleFilter = SampleFilter()) -> list[tuple[int, int, int, int, int]]:
        """(wakee pid, wakee tid, waker pid, waker tid, count) per pair; ``flt`` selects wakees."""
        self._wakeups_of(flt)
        where, params = self._where(flt)
        count = self._wakeup_check(ids=("pid", "tid", "waker_pid", "waker_tid"))
        return self._query(
            f"SELECT pid, tid, waker_pid, waker_tid, {count} FROM (SELECT wakee_pid AS pid,"
            f" wakee_tid AS tid, waker_pid, waker_tid, time FROM wakeups){where}"
            " GROUP BY pid, tid, waker_pid, waker_tid",
            params,
        )

    def off_cpu_wakers(
        self, flt: SampleFilter = SampleFilter()
    ) -> list[tuple[int, int, int, str, int | None, int | None, int | None, int, int]]:
        """Blocked spans joined to the wakeup that ended them, per distinct combination.

        (pid, tid, stack id, reason, waker pid, waker tid, waker stack id, span count, ns);
        the waker columns are None for spans with no captured wakeup.  Preemptions are
        excluded: nobody wakes a runnable thread.
        """
        self._check(validation.SPANS)
        self._spans_of(flt)
        where, params = self._where(flt, "span")
        cond = "reason != 'preempted'"
        where = f"{where} AND {cond}" if where else f" WHERE {cond}"
        if self._events is not None:  # the wakeups that ended them: inside the spans' times
            low, high = self._query(f"SELECT min(start), max(end) FROM off_cpu_spans{where}", params)[0]
            if low is None:
                self._events.load_wakeups(0, 0)  # none: the table, empty
            else:
                self._events.load_wakeups(low, high + 1 if high < validation.I64_MAX else None)
        ns = validation.checked(f"sum({_span_ns(flt, 's.')})", validation.SPANS, [
            *validation.span_rules(self._shape, ("s.pid", "s.tid"), "s.stack_id", "s."),
            *validation.wakeup_rules(self._shape, ("w.waker_pid", "w.waker_tid"), "w.stack_id",
                                     nullable=True),
            "count(s.wakeup_id) = count(w.id)"])  # every wakeup a span names exists
        return self._query(
            "SELECT s.pid, s.tid, s.stack_id, s.reason, w.waker_pid, w.waker_tid, w.stack_id,"
            f" count(*), {ns}"
            f" FROM (SELECT * FROM off_cpu_spans{where}) s LEFT JOIN wakeups w ON w.id = s.wakeup_id"
            " GROUP BY s.stack_id, s.reason, s.tid, s.pid, w.waker_tid, w.waker_pid, w.stack_id",
            params,
        )

    def off_cpu_span_count(self) -> int:
        """Spans in the whole recording (preemptions included): 0 means no off-CPU data."""
        if self._events is not None:
            return self._query("SELECT coalesce(sum(count), 0) FROM span_blocks")[0][0]
        return self._query("SELECT count(*) FROM off_cpu_spans")[0][0]

    def wakeup_stack_pairs(
        self, flt: SampleFilter = SampleFilter()
    ) -> list[tuple[int, int, int, int, int, int]]:
        """(wakee pid, wakee tid, waker pid, waker tid, waker stack id, count); ``flt`` selects wakees.

        The stack tells a thread's own wakeup from an interrupt's that landed on it.
        """
        self._wakeups_of(flt)
        where, params = self._where(flt)
        count = self._wakeup_check(ids=("pid", "tid", "waker_pid", "waker_tid"), stack="stack_id")
        return self._query(
            f"SELECT pid, tid, waker_pid, waker_tid, stack_id, {count} FROM (SELECT wakee_pid AS pid,"
            f" wakee_tid AS tid, waker_pid, waker_tid, stack_id, time FROM wakeups){where}"
            " GROUP BY pid, tid, waker_pid, waker_tid, stack_id",
            params,
        )

    # -- per-address data (annotated disassembly) --------------------------------------------------

    def leaf_frame_totals(self, flt: SampleFilter = SampleFilter()) -> list[tuple[int, int, int]]:
        """(frame id, sample count, weight ns) per frame that selected samples were taken in."""
        if self._use_totals(flt):
            where, params = self._where(flt)
            return self._query(
                "SELECT st.frame_id, sum(t.c), sum(t.w) FROM (SELECT stack_id, sum(count) AS c,"
                f" sum(weight) AS w FROM sample_totals{where} GROUP BY stack_id) t"
                " JOIN stacks st ON st.id = t.stack_id GROUP BY st.frame_id",
                params,
            )
        _, frames = self.stack_arrays()
        per_frame = GroupTotals()
        for stack, count, weight in self.stack_totals(flt):
            if stack >= 0:  # the empty stack has no leaf frame (as the join above drops it)
                per_frame.counts[frames[stack]] += count
                per_frame.weights[frames[stack]] += weight
        return list(per_frame.rows())

    def frame_addresses(self) -> list[tuple[int, int, int, bool, bool, str | None, int | None,
                                            str | None, int | None]]:
        """(id, image id, offset, is_kernel, is_return, function, symbol_offset, file, line) per frame.

        ``file``/``line`` are the innermost known: the inlined function's own line where
        code was inlined at that address, else the function's.
        """
        inner = {frame_id: (file, line) for frame_id, file, line in self._query(
            "SELECT frame_id, file, line FROM frame_inlines WHERE depth = 0")}
        out = []
        for fid, image_id, offset, kernel, ret, function, sym_offset, file, line in self._query(
            "SELECT id, image_id, offset, is_kernel, is_return, function, symbol_offset, file, line"
            " FROM frames ORDER BY id"
        ):
            file, line = inner.get(fid, (file, line))
            out.append((fid, image_id, from_sql_u64(offset), bool(kernel), bool(ret), function,
                        sym_offset, file, line))
        return out


def _span_ns(flt: SampleFilter | None, prefix: str = "") -> str:
    """The SQL for one span's off-CPU ns: ``end - start``, clipped to ``flt``'s time range."""
    end, start = f"{prefix}end", f"{prefix}start"
    if flt is not None and flt.end is not None:
        end = f"min({end}, {int(flt.end)})"
    if flt is not None and flt.start is not None:
        start = f"max({start}, {int(flt.start)})"
    return f"{end} - {start}"
