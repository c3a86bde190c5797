"""The ``.stax`` file being written: tables, commits, and what a failed write keeps.

:class:`RecordingFile` owns the SQLite connection.  It creates the schema and marks
the file ``meta.state = "recording"`` in its first commit, before any sample
(stax.recording.recording_state); keeps samples, off-CPU spans, wakeups, counter values
and lost counts pending until the next commit, when they are written with the new rows
of the interned tables (images, frames, stacks) and the small tables (threads,
processes, lost).  Samples go into columnar blocks (stax.recording.sample_blocks) as
soon as a block is full; the per-(thread, stack) totals are counted as samples arrive
(or handed over already added up, by a backend that did it in compiled code), so
finishing needs no pass over the samples; spans and wakeups go into blocks of their own
the same way (stax.recording.event_blocks).  A recorder that is killed
leaves a readable file up to its last commit.

A write that fails (the disk is full) rolls back to the last commit, closes the file
and raises :class:`~stax.errors.RecordingWriteError`, one sentence saying how much the
file keeps; the file stays readable as an incomplete recording.  :meth:`complete`
marks the file ``"complete"`` and folds the WAL back in, so a finished recording is
one self-contained file.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from stax.capabilities import CapabilityRow
from stax.errors import RecordingWriteError, StaxError
from stax.events import CounterValues
from stax.recording import event_blocks, sample_blocks
from stax.recording import meta_keys as mk
from stax.recording.interner import StackInterner
from stax.recording.recording_state import STATE_COMPLETE, STATE_RECORDING
from stax.recording.sample_totals import SampleTotals
from stax.recording.schema import APPLICATION_ID, BLOCK_SAMPLES, SCHEMA, SCHEMA_VERSION, compact, to_sql_u64
from stax.recording.thread_table import ThreadTable
from stax.stack_table import SampleColumns
from stax.trusted_files import recording_output

PAGE_SIZE = 512
"""SQLite's smallest page: a recording is ~25 tables and indexes, most of them a page, so the
page is most of a short recording's size (1 KiB pages were ~45 KiB of a 3 s one, 4 KiB ~100);
the blocks are large blobs anyway, in overflow pages that waste 4 bytes each."""


def _span(known: tuple[int, int] | None, more: tuple[int, int]) -> tuple[int, int]:
    """Both time ranges in one (DWARF samples arrive after the others: blocks overlap)."""
    return more if known is None else (min(known[0], more[0]), max(known[1], more[1]))


class RecordingFile:
    """One recording file open for writing; ``db`` is the connection (inside a transaction)."""

    def __init__(self, path: Path, interner: StackInterner, threads: ThreadTable,
                 force: bool = False) -> None:
        # a regular file only; links resolved; the previous recording kept as NAME.old
        self.path, self.previous = recording_output(Path(path), force)
        self.interner = interner
        self.thread_table = threads
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StaxError(f"Cannot create {self.path} ({exc}); choose another -o path.") from None
        self.sample_count = 0
        self.committed_samples = 0
        """Samples made durable by the last commit: what a killed or disk-full recorder keeps."""
        self._pending = SampleColumns()
        """Samples not yet in a block: a full block is written at once, the rest at the next commit."""
        self._blocks = 0
        """Full blocks written; the open block (the pending samples) has this id."""
        self._open_written = 0
        """Samples the open block held when it was last written (a commit with no new ones skips it)."""
        self._closed_times: tuple[int, int] | None = None  # (first, last) sample time of full blocks
        self._times: tuple[int, int] | None = None  # (first, last) sample time written
        self._committed_times: tuple[int, int] | None = None
        self.totals = SampleTotals()
        self._failed = False
        self._complete = False
        with self.writing():
            # the empty file needs no fsync (a killed recorder leaves the page cache intact; a crash
            # of the machine this early loses nothing): its creation took ~15 of them
            self.db.execute("PRAGMA synchronous=OFF")
            self.db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self.db.execute("PRAGMA journal_mode=WAL")
            # one transaction: the schema is one commit in the WAL (100 KB less than one per table)
            self.db.executescript(f"BEGIN; PRAGMA application_id={APPLICATION_ID}; {compact(SCHEMA)}"
                                  f" PRAGMA user_version={SCHEMA_VERSION};")
            self.set_meta({mk.STATE: STATE_RECORDING})  # committed now: marked before any sample
            self.db.execute("COMMIT")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("BEGIN")
        self.spans = event_blocks.BlockStream(event_blocks.SPANS)
        """Off-CPU spans; ``wakeup_id`` None where the link_wakeups pass finds it."""
        self.unlinked_spans = 0
        """Spans added without their wakeup link (add_off_cpu): link_wakeups looks theirs up."""
        self.wakeups = event_blocks.BlockStream(event_blocks.WAKEUPS)
        self.counters: list[CounterValues] = []
        self.lost: dict[tuple[int, str], int] = {}
        """(cpu, kind) -> count, rewritten at each commit."""
        self._written = {"images": 0, "frames": 0, "stacks": 0}

    # -- rows -------------------------------------------------------------------------------------

    def append_samples(self, batch: SampleColumns,
                       totals: Iterable[tuple[int, int, int, int, int]] | None = None) -> None:
        """Samples, written in blocks; ``totals``: the same added up per (pid, tid, stack) as
        (pid, tid, stack, count, weight) rows, when the caller has them (else counted here)."""
        if totals is None:
            self.totals.add_block(batch)
        else:
            self.totals.add_groups(totals)
        pending = self._pending
        pending.extend(batch)
        self.sample_count += len(batch)
        if len(pending) >= BLOCK_SAMPLES:
            with self.writing():
                self._write_blocks(final=False)

    def _write_blocks(self, final: bool) -> None:
        """Write the full blocks of the pending samples, and with ``final`` (a commit) the rest.

        The rest is the open block: written at each commit (a killed recorder keeps it) and
        rewritten, larger, at the next, until it is full, so slow recordings get full
        blocks too (a block per commit was ~1 byte a sample more at 999 Hz)."""
        pending = self._pending
        if not len(pending) or (final and len(pending) == self._open_written):
            return  # nothing new since the open block was last written
        full = len(pending) - len(pending) % BLOCK_SAMPLES
        rows = []
        open_block = None
        for start in range(0, len(pending) if final else full, BLOCK_SAMPLES):
            cols = pending.slice(start, min(start + BLOCK_SAMPLES, len(pending)))
            block = sample_blocks.encode(cols)
            rows.append((self._blocks + start // BLOCK_SAMPLES, block.first_time, block.last_time,
                         block.count, block.data))
            if len(cols) == BLOCK_SAMPLES:
                self._closed_times = _span(self._closed_times, (block.first_time, block.last_time))
            else:
                open_block = (block.first_time, block.last_time)
        if final:
            self._times = self._closed_times if open_block is None else _span(self._closed_times, open_block)
        self.db.executemany("INSERT OR REPLACE INTO sample_blocks VALUES (?,?,?,?,?)", rows)
        pending.drop_first(full)
        self._blocks += full // BLOCK_SAMPLES
        if final:
            self._open_written = len(pending)
        elif full:
            self._open_written = -1  # a new open block, not written yet

    def totals_rows(self) -> Iterator[tuple[int, int, int, int, int]]:
        """The ``sample_totals`` rows: every sample appended, counted as it came."""
        return self.totals.table_rows()

    @property
    def off_cpu_count(self) -> int:
        return self.spans.count

    @property
    def wakeup_count(self) -> int:
        return self.wakeups.count

    def add_off_cpu(self, row: tuple) -> None:
        """(start, end, pid, tid, cpu, reason, wait_site, stack_id), written at the next commit;
        its wakeup is linked at the end (link_wakeups)."""
        self.spans.add_rows(((*row, event_blocks.NO_WAKEUP),))
        self.unlinked_spans += 1
        self._write_full_events()

    def add_wakeup(self, time: int, cpu: int, waker_pid: int, waker_tid: int, wakee_pid: int,
                   wakee_tid: int, stack_id: int) -> None:
        """A wakeup, numbered in arrival order from 0, written at the next commit."""
        self.wakeups.add_rows(((time, cpu, waker_pid, waker_tid, wakee_pid, wakee_tid, stack_id),))
        self._write_full_events()

    def add_off_cpu_columns(self, columns: Sequence[Iterable]) -> None:
        """Spans as columns (start, end, pid, tid, cpu, reason, wait_site, stack_id, wakeup_id),
        their wakeup linked already (event_blocks.NO_WAKEUP: none was captured inside the span);
        ``array("q")`` integer columns (stax.event_columns) are appended by C-level copies."""
        self.spans.add_columns(columns)
        self._write_full_events()

    def add_wakeup_columns(self, columns: Sequence[Iterable]) -> None:
        """Wakeups as columns (time, cpu, waker pid, waker tid, wakee pid, wakee tid, stack)."""
        self.wakeups.add_columns(columns)
        self._write_full_events()

    def _write_full_events(self) -> None:
        if self.spans.full() or self.wakeups.full():
            with self.writing():
                self._write_event_blocks(final=False)

    def _write_event_blocks(self, final: bool) -> None:
        for stream in (self.wakeups, self.spans):
            rows = stream.block_rows(final)
            if rows:
                self.db.executemany(stream.insert_sql(), rows)

    def add_lost(self, cpu: int, kind: str, count: int) -> None:
        key = (cpu, kind)
        self.lost[key] = self.lost.get(key, 0) + count

    def _write_tables(self) -> None:
        images = self.interner.images.images
        start = self._written["images"]
        self.db.executemany(
            "INSERT INTO images VALUES (?,?,?,?,?)",
            ((i.id, i.path, str(i.kind), i.build_id.hex() if i.build_id else None, i.pid)
             for i in images[start:]),
        )
        self._written["images"] = len(images)
        f = self.interner.frames
        start = self._written["frames"]
        self.db.executemany(
            "INSERT INTO frames (id, image_id, offset, is_kernel, is_return) VALUES (?,?,?,?,?)",
            ((i, f.image_ids[i], to_sql_u64(f.offsets[i]), f.is_kernel[i], f.is_return[i])
             for i in range(start, len(f))),
        )
        self._written["frames"] = len(f)
        s = self.interner.stacks
        start = self._written["stacks"]
        self.db.executemany(
            "INSERT INTO stacks VALUES (?,?,?)",
            ((i, s.parents[i], s.frames[i]) for i in range(start, len(s))),
        )
        self._written["stacks"] = len(s)
        self.db.execute("DELETE FROM threads")
        self.db.executemany(
            "INSERT INTO threads VALUES (?,?,?,?,?)",
            ((pid, tid, t["name"], t["start_time"], t["end_time"])
             for (pid, tid), t in self.thread_table.threads.items()),
        )
        self.db.execute("DELETE FROM processes")
        self.db.executemany(
            "INSERT INTO processes VALUES (?,?,?,?,?,?)",
            ((pid, p["parent_pid"], p["name"], p["command_line"], p["start_time"], p["end_time"])
             for pid, p in self.thread_table.processes.items()),
        )
        self.db.execute("DELETE FROM lost")
        self.db.executemany(
            "INSERT INTO lost VALUES (?,?,?)", ((c, k, n) for (c, k), n in self.lost.items())
        )

    def _flush_pending(self) -> None:
        """Write the open span and wakeup blocks, append counter values (streamed, bounded memory)."""
        self._write_event_blocks(final=True)
        self.db.executemany(
            "INSERT INTO counter_values VALUES (?,?,?,?,?)",
            ((c.time, c.pid, c.tid, name, value) for c in self.counters
             for name, value in c.values.items()),
        )
        self.counters.clear()

    # -- commits ----------------------------------------------------------------------------------

    def commit(self) -> None:
        """Write every pending row and make everything so far durable: a killed recorder keeps it."""
        with self.writing():
            self._write_blocks(final=True)
            self._flush_pending()
            self._write_tables()
            self.db.execute("COMMIT")
            self.committed_samples, self._committed_times = self.sample_count, self._times
            self.db.execute("BEGIN")

    def checkpoint(self) -> None:
        """Make what the passes wrote so far durable before a long one (symbolication)."""
        self.db.execute("COMMIT")
        self.db.execute("BEGIN")

    def set_meta(self, values: Mapping[str, object]) -> None:
        with self.writing():
            self.db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?,?)",
                ((k, json.dumps(v, default=str)) for k, v in values.items()),
            )

    def set_capabilities(self, rows: Sequence[CapabilityRow]) -> None:
        with self.writing():
            self.db.executemany(
                "INSERT OR REPLACE INTO capabilities VALUES (?,?,?,?)",
                ((str(r.capability), str(r.status), r.reason, r.fix) for r in rows),
            )

    def complete(self) -> None:
        """Write the row counts, mark the file complete and close it as one self-contained file."""
        with self.writing():
            self.set_meta({mk.SAMPLE_COUNT: self.sample_count, mk.OFF_CPU_SPAN_COUNT: self.off_cpu_count,
                           mk.WAKEUP_COUNT: self.wakeup_count, mk.STATE: STATE_COMPLETE})
            self.db.execute("COMMIT")
            self._complete = True
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one self-contained file again, synced
            # leaving WAL mode rewrites one header page: old or new, the file is whole either way,
            # so it takes no fsync (it took three)
            self.db.execute("PRAGMA synchronous=OFF")
            self.db.execute("PRAGMA journal_mode=DELETE")
            self._vacuum()
            self.db.close()
        self._settle_previous()

    def _vacuum(self) -> None:
        """Rewrite the finished file without the pages rewritten open blocks freed, each table's
        rows packed in order (~10% of a short recording).  Needs the file's size again in free
        space for a moment: on a full disk the file stays as it is, complete and readable.  The
        rewrite goes through the rollback journal with its fsyncs: a crash midway keeps the file."""
        try:
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("VACUUM")
        except sqlite3.Error:
            pass

    def abandon(self) -> None:
        """Close after a failed capture: keep what was recorded, remove a file that holds nothing."""
        if not self._failed:
            try:
                self._write_blocks(final=True)
                self._write_event_blocks(final=True)
                self.db.execute("COMMIT")
                self.committed_samples, self._committed_times = self.sample_count, self._times
            except sqlite3.Error:  # a failed write rolled back what the last commit did not keep
                pass
            try:
                self.db.close()
            except sqlite3.Error:
                pass
        if self.committed_samples == 0:
            self._remove_files()
        else:
            self._settle_previous()

    # -- failed writes ----------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Turn a failed write (disk full, I/O error) into one sentence; keep the last commit."""
        try:
            yield
        except sqlite3.Error as exc:
            raise self._write_failed(exc) from None

    def _write_failed(self, exc: sqlite3.Error) -> RecordingWriteError:
        """Roll back to the last commit, close, and say what the file keeps.

        SQLite may already have rolled the transaction back itself (it does on
        SQLITE_FULL); the committed part is intact in the file and its ``-wal``.
        """
        self._failed = True
        try:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        try:
            self.db.close()  # a checkpoint that needs space fails harmlessly: the WAL keeps it
        except sqlite3.Error:
            pass
        full = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
        problem = "The disk is full" if full else f"Writing the recording failed ({exc})"
        fix = ("free some space or record to another disk with -o" if full
               else "check the disk and record again")
        if self._complete:  # only folding the WAL back into the file failed
            return RecordingWriteError(
                f"{problem}: {self.path} is complete but keeps its last part in {self.path}-wal;"
                f" keep the two files together, or {fix}.")
        if not self.committed_samples:
            self._remove_files()
            return RecordingWriteError(f"{problem}: nothing was kept of {self.path}, so it was"
                                       f" removed; {fix}.")
        self._settle_previous()
        span = self._committed_times
        seconds = (span[1] - span[0]) / 1e9 if span else 0.0
        return RecordingWriteError(
            f"{problem}: {self.path} keeps the first {seconds:.2f} s ({self.committed_samples:,}"
            f" samples), readable as an incomplete recording with `stax top {self.path}`; {fix}."
        )

    def _remove_files(self) -> None:
        """Remove a file that holds nothing, and put the previous recording back from ``NAME.old``."""
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(str(self.path) + suffix)
            except FileNotFoundError:
                pass
        if self.previous is not None:
            self.previous.restore()
            self.previous = None

    def _settle_previous(self) -> None:
        """The file holds something: the ``.old`` that keeping the previous recording displaced goes."""
        if self.previous is not None:
            self.previous.settle()
            self.previous = None
