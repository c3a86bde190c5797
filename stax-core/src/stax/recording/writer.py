"""Build a ``.stax`` file from the event stream while capture runs.

:class:`RecordingBuilder` is the :class:`stax.contracts.EventSink` a backend feeds.
It resolves addresses to (image, offset), interns frames and stacks, appends
samples in columnar batches and commits about once a second, so a recorder that is
killed leaves a readable file up to its last commit.  ``finish`` symbolicates the
unique frames and writes the metadata.

The file says ``meta.state = "recording"`` from its creation until ``finish`` marks it
``"complete"`` (stax.recording.recording_state), so a view can tell a file left by a
killed recorder.  A write that fails (the disk is full) rolls back to the last
commit and raises :class:`~stax.errors.RecordingWriteError`, one sentence saying how
much the file keeps; the file stays readable as an incomplete recording.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from stax.address_spaces import JITDUMP_PATHS_OPTION, AddressSpaces
from stax.blocked_reason import BlockedReason
from stax.capabilities import CapabilityRow
from stax.errors import RecordingWriteError, StaxError
from stax.events import (
    CounterValues,
    Event,
    ImageKind,
    ImageLoad,
    LostNotice,
    OffCpuInterval,
    Sample,
    ThreadExit,
    ThreadName,
    ThreadStart,
    Wakeup,
)
from stax.recording.recording_state import STATE_COMPLETE, STATE_KEY, STATE_RECORDING
from stax.recording.schema import APPLICATION_ID, SCHEMA, SCHEMA_VERSION, to_sql_u64
from stax.stack_table import EMPTY_STACK, FrameTable, ImageTable, SampleColumns, StackTable
from stax.trusted_files import PROCESS_OWNERS_OPTION, process_uids, recording_output
from stax.wait_site_classifier import classify_wait_site

if TYPE_CHECKING:
    from stax.plugin_manager import StaxPlugins

COMMIT_INTERVAL_S = 1.0
TRUNCATED_FRAME = "[truncated]"
"""The synthetic root frame of a user stack the unwinder could not finish (Sample.user_stack_truncated):
renderers show it where the stack ends, instead of passing a partial stack off as complete."""


class RecordingBuilder:
    """The sink that turns decoded events into a recording file."""

    def __init__(self, path: Path, plugins: StaxPlugins | None = None) -> None:
        self.path = recording_output(Path(path))  # a regular file only; links resolved
        self.plugins = plugins
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StaxError(f"Cannot create {self.path} ({exc}); choose another -o path.") from None
        self.sample_count = 0
        self.committed_samples = 0
        """Samples made durable by the last commit: what a killed or disk-full recorder keeps."""
        self._times: tuple[int, int] | None = None  # (first, last) sample time appended
        self._committed_times: tuple[int, int] | None = None
        self._failed = False
        self._complete = False
        with self._writing():
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            # one transaction: the schema is one commit in the WAL (100 KB less than one per table)
            self.db.executescript(f"BEGIN; PRAGMA application_id={APPLICATION_ID}; {SCHEMA}"
                                  f" PRAGMA user_version={SCHEMA_VERSION};")
            self.set_meta({STATE_KEY: STATE_RECORDING})  # committed now: marked before any sample
            self.db.execute("COMMIT")
            self.db.execute("BEGIN")
        self.images = ImageTable()
        self.frames = FrameTable()
        self.stacks = StackTable()
        self.address_spaces = AddressSpaces(self.images)
        self.samples = SampleColumns()
        self.lost: dict[tuple[int, str], int] = {}
        self.threads: dict[tuple[int, int], dict[str, object]] = {}
        self.processes: dict[int, dict[str, object]] = {}
        self.process_owners: dict[int, set[int]] = {}
        """The uids each process was seen running as: who may own its perf map or jitdump."""
        self.off_cpu: list[tuple] = []
        self.wakeups: list[tuple] = []
        self.off_cpu_count = 0
        self.wakeup_count = 0
        self.counters: list[CounterValues] = []
        self._frame_cache: dict[tuple[int, int, bool, bool], int] = {}
        self._stack_cache: dict[tuple[int, tuple[int, ...], tuple[int, ...], bool], int] = {}
        self._written = {"images": 0, "frames": 0, "stacks": 0}
        self._truncated_frame_id: int | None = None
        self._last_commit = time.monotonic()

    # -- EventSink ------------------------------------------------------------------------------

    def consume(self, events: Sequence[Event]) -> None:
        batch = SampleColumns()
        for event in events:
            kind = type(event)
            if kind is Sample:
                stack_id = self.intern_stack(event.pid, event.kernel_ips, event.user_ips,
                                             event.user_stack_truncated)
                batch.append(event.time, event.pid, event.tid, event.cpu, stack_id, event.weight)
                self._thread(event.pid, event.tid, event.time)
            elif kind is ImageLoad:
                self.address_spaces.add(event)
            elif kind is ThreadName:
                self._on_thread_name(event)
            elif kind is ThreadStart:
                self._on_thread_start(event)
            elif kind is ThreadExit:
                thread = self._thread(event.pid, event.tid, event.time)
                thread["end_time"] = event.time
                if event.pid == event.tid:
                    self._process(event.pid)["end_time"] = event.time
            elif kind is LostNotice:
                key = (event.cpu, str(event.kind))
                self.lost[key] = self.lost.get(key, 0) + event.count
            elif kind is OffCpuInterval:
                stack_id = self.intern_stack(event.pid, event.kernel_ips, event.user_ips)
                self.off_cpu.append((event.start, event.end, event.pid, event.tid, event.cpu,
                                     str(event.reason), event.wait_site, stack_id))
                self.off_cpu_count += 1
                self._thread(event.pid, event.tid, event.start)
            elif kind is Wakeup:
                stack_id = self.intern_stack(event.waker_pid, event.kernel_ips, event.user_ips)
                self.wakeups.append((self.wakeup_count, event.time, event.cpu, event.waker_pid,
                                     event.waker_tid, event.wakee_pid, event.wakee_tid, stack_id))
                self.wakeup_count += 1
            elif kind is CounterValues:
                self.counters.append(event)
        if len(batch):
            with self._writing():
                self._append_samples(batch)
        if time.monotonic() - self._last_commit >= COMMIT_INTERVAL_S:
            self.commit()

    # -- interning ------------------------------------------------------------------------------

    def intern_stack(self, pid: int, kernel_ips: Sequence[int], user_ips: Sequence[int],
                     truncated: bool = False) -> int:
        """Intern a raw stack (both parts leaf first) and return its stack id.

        The first address of each part is where that part was interrupted (the sampled
        pc; for the user part of a kernel sample, where it entered the kernel).  Every
        other address is a return address and becomes a frame marked ``is_return``,
        which symbolication looks up at ``address - 1``.  Backends deliver raw addresses.
        Whole stacks repeat (a loop, a wait site), so they are memoised per process.
        """
        key = (pid, tuple(kernel_ips), tuple(user_ips), truncated)
        stack_id = self._stack_cache.get(key)
        if stack_id is None:
            stack_id = self._intern_stack(pid, kernel_ips, user_ips, truncated)
            self._stack_cache[key] = stack_id
        return stack_id

    def _intern_stack(self, pid: int, kernel_ips: Sequence[int], user_ips: Sequence[int],
                      truncated: bool) -> int:
        frame = self._frame
        frame_ids = [frame(pid, ip, False, i > 0) for i, ip in enumerate(user_ips)]
        frame_ids.reverse()
        if truncated:  # the root end gets the [truncated] marker frame
            frame_ids.insert(0, self._truncated_frame())
        for i in range(len(kernel_ips) - 1, -1, -1):
            frame_ids.append(frame(pid, kernel_ips[i], True, i > 0))
        return self.stacks.intern(frame_ids) if frame_ids else EMPTY_STACK

    def _frame(self, pid: int, ip: int, is_kernel: bool, is_return: bool = False) -> int:
        key = (-1 if is_kernel else pid, ip, is_kernel, is_return)
        frame_id = self._frame_cache.get(key)
        if frame_id is None:
            if is_kernel:
                image_id, offset = self.address_spaces.kernel_image_id, ip
            else:
                image_id, offset = self.address_spaces.resolve_user(pid, ip)
            frame_id = self.frames.intern(image_id, offset, is_kernel, is_return)
            self._frame_cache[key] = frame_id
        return frame_id

    def _truncated_frame(self) -> int:
        if self._truncated_frame_id is None:
            image_id = self.images.intern(TRUNCATED_FRAME, ImageKind.UNKNOWN)
            self._truncated_frame_id = self.frames.intern(image_id, 0, False)
        return self._truncated_frame_id

    def _invalidate_frame_cache(self, pid: int) -> None:
        """A process's addresses mean something else after exec or fork: forget them."""
        if self._frame_cache:
            self._frame_cache = {k: v for k, v in self._frame_cache.items() if k[0] != pid}
        if self._stack_cache:
            self._stack_cache = {k: v for k, v in self._stack_cache.items() if k[0] != pid}

    # -- threads and processes ------------------------------------------------------------------

    def _process(self, pid: int) -> dict[str, object]:
        proc = self.processes.get(pid)
        if proc is None:
            proc = {"parent_pid": None, "name": None, "command_line": None,
                    "start_time": None, "end_time": None}
            self.processes[pid] = proc
            self._note_owners(pid)
        return proc

    def _note_owners(self, pid: int) -> None:
        """Remember the uids ``pid`` runs as now (read while it runs: by the end it may be gone)."""
        uids = process_uids(pid)
        if uids:
            self.process_owners.setdefault(pid, set()).update(uids)

    def _thread(self, pid: int, tid: int, when: int) -> dict[str, object]:
        thread = self.threads.get((pid, tid))
        if thread is None:
            thread = {"name": None, "start_time": when, "end_time": None}
            self.threads[(pid, tid)] = thread
            self._process(pid)
        return thread

    def _on_thread_name(self, event: ThreadName) -> None:
        thread = self._thread(event.pid, event.tid, event.time)
        thread["name"] = event.name
        if event.pid == event.tid or event.process:
            self._process(event.pid)["name"] = event.name
        if event.is_exec:
            self._note_owners(event.pid)  # a set-user-id program runs as another user now
            self.address_spaces.exec(event.pid)
            self._invalidate_frame_cache(event.pid)

    def _on_thread_start(self, event: ThreadStart) -> None:
        thread = self._thread(event.pid, event.tid, event.time)
        thread["start_time"] = event.time
        parent = self.threads.get((event.parent_pid, event.parent_tid))
        if thread["name"] is None and parent is not None:
            thread["name"] = parent["name"]
        if event.pid == event.tid and event.parent_pid != event.pid:
            proc = self._process(event.pid)
            proc["parent_pid"] = event.parent_pid
            proc["start_time"] = event.time
            if proc["name"] is None and parent is not None:
                proc["name"] = parent["name"]
            self.address_spaces.fork(event.parent_pid, event.pid)
            self._invalidate_frame_cache(event.pid)

    def set_command_line(self, pid: int, command_line: str) -> None:
        self._process(pid)["command_line"] = command_line

    # -- writing --------------------------------------------------------------------------------

    def _append_samples(self, batch: SampleColumns) -> None:
        self.db.executemany("INSERT INTO samples VALUES (?,?,?,?,?,?)", batch.rows())
        self.sample_count += len(batch)
        first, last = min(batch.time), max(batch.time)  # DWARF samples arrive after the others
        if self._times is not None:
            first, last = min(first, self._times[0]), max(last, self._times[1])
        self._times = (first, last)

    def _write_tables(self) -> None:
        images = self.images.images
        start = self._written["images"]
        self.db.executemany(
            "INSERT INTO images VALUES (?,?,?,?,?)",
            ((i.id, i.path, str(i.kind), i.build_id.hex() if i.build_id else None, i.pid)
             for i in images[start:]),
        )
        self._written["images"] = len(images)
        f = self.frames
        start = self._written["frames"]
        self.db.executemany(
            "INSERT INTO frames (id, image_id, offset, is_kernel, is_return) VALUES (?,?,?,?,?)",
            ((i, f.image_ids[i], to_sql_u64(f.offsets[i]), f.is_kernel[i], f.is_return[i])
             for i in range(start, len(f))),
        )
        self._written["frames"] = len(f)
        s = self.stacks
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
             for (pid, tid), t in self.threads.items()),
        )
        self.db.execute("DELETE FROM processes")
        self.db.executemany(
            "INSERT INTO processes VALUES (?,?,?,?,?,?)",
            ((pid, p["parent_pid"], p["name"], p["command_line"], p["start_time"], p["end_time"])
             for pid, p in self.processes.items()),
        )
        self.db.execute("DELETE FROM lost")
        self.db.executemany(
            "INSERT INTO lost VALUES (?,?,?)", ((c, k, n) for (c, k), n in self.lost.items())
        )

    def _flush_off_cpu(self) -> None:
        """Append pending spans, wakeups and counter values (streamed, bounded memory)."""
        self.db.executemany("INSERT INTO wakeups VALUES (?,?,?,?,?,?,?,?)", self.wakeups)
        self.db.executemany("INSERT INTO off_cpu_spans VALUES (?,?,?,?,?,?,?,?,NULL)", self.off_cpu)
        self.db.executemany(
            "INSERT INTO counter_values VALUES (?,?,?,?,?)",
            ((c.time, c.pid, c.tid, name, value) for c in self.counters
             for name, value in c.values.items()),
        )
        self.off_cpu.clear()
        self.wakeups.clear()
        self.counters.clear()

    def _link_wakeups(self) -> None:
        """Link each span to the wakeup that ended it: the wakee's last wakeup inside the span.

        sched_waking fires on the waker's CPU before the switch-in that closes the span,
        so the latest wakeup of that tid with start <= time <= end is the one.
        """
        if not self.wakeup_count:
            return
        self.db.execute("CREATE INDEX wakeups_by_wakee ON wakeups (wakee_tid, time)")
        self.db.execute(
            "UPDATE off_cpu_spans SET wakeup_id = (SELECT w.id FROM wakeups w"
            " WHERE w.wakee_tid = off_cpu_spans.tid AND w.time BETWEEN off_cpu_spans.start"
            " AND off_cpu_spans.end ORDER BY w.time DESC LIMIT 1)"
        )

    def _classify_off_cpu_by_stack(self) -> None:
        """Give each blocked span the reason its named kernel wait site says.

        Backends classify what they can while capturing (e.g. /proc wchan); once frames
        have names, the kernel stack at switch-out decides (stax.wait_site_classifier),
        OS-neutrally.  Preemptions and stacks without named kernel frames keep theirs.
        """
        if not self.off_cpu_count:
            return
        stack_ids = [row[0] for row in self.db.execute(
            "SELECT DISTINCT stack_id FROM off_cpu_spans WHERE reason != 'preempted' AND stack_id >= 0")]
        if not stack_ids:
            return
        names = dict(self.db.execute("SELECT id, function FROM frames WHERE is_kernel = 1"))
        updates = []
        is_kernel = self.frames.is_kernel
        for stack_id in stack_ids:
            kernel_names = []
            for frame_id in self.stacks.frames_leaf_first(stack_id):
                if not is_kernel[frame_id]:
                    break
                kernel_names.append(names.get(frame_id) or "")
            if not any(kernel_names):
                continue
            reason, site = classify_wait_site(kernel_names)
            if reason is not BlockedReason.OTHER:
                updates.append((str(reason), site, stack_id))
        self.db.executemany(
            "UPDATE off_cpu_spans SET reason = ?, wait_site = ? WHERE stack_id = ? AND reason != 'preempted'",
            updates,
        )

    def _write_sample_totals(self) -> None:
        """Aggregate samples per (thread, stack) once, so every view reads a small table."""
        self.db.execute(
            "INSERT INTO sample_totals SELECT pid, tid, stack_id, count(*), sum(weight)"
            " FROM samples GROUP BY pid, tid, stack_id"
        )
        self.set_meta({"sample_totals": True})

    def commit(self) -> None:
        """Make everything so far durable: a killed recorder keeps it."""
        with self._writing():
            self._flush_off_cpu()
            self._write_tables()
            self.db.execute("COMMIT")
            self.committed_samples, self._committed_times = self.sample_count, self._times
            self.db.execute("BEGIN")
        self._last_commit = time.monotonic()

    def set_meta(self, values: Mapping[str, object]) -> None:
        with self._writing():
            self.db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?,?)",
                ((k, json.dumps(v, default=str)) for k, v in values.items()),
            )

    def set_capabilities(self, rows: Sequence[CapabilityRow]) -> None:
        with self._writing():
            self.db.executemany(
                "INSERT OR REPLACE INTO capabilities VALUES (?,?,?,?)",
                ((str(r.capability), str(r.status), r.reason, r.fix) for r in rows),
            )

    # -- failed writes --------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[None]:
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
        span = self._committed_times
        seconds = (span[1] - span[0]) / 1e9 if span else 0.0
        return RecordingWriteError(
            f"{problem}: {self.path} keeps the first {seconds:.2f} s ({self.committed_samples:,}"
            f" samples), readable as an incomplete recording with `stax top {self.path}`; {fix}."
        )

    def _remove_files(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(str(self.path) + suffix)
            except FileNotFoundError:
                pass

    def finish(self, symbolicate: bool = True, symbol_options: Mapping[str, object] | None = None,
               ) -> list[str]:
        """Write the remaining tables, symbolicate unique frames, mark the file complete, close it.

        Everything captured is committed first, so a disk that fills up during the
        derived tables or symbolication loses none of the samples.  Returns the
        symbolication warnings (one sentence each).
        """
        self.commit()
        with self._writing():
            self._link_wakeups()
            self._write_sample_totals()
            warnings: list[str] = []
            if symbolicate and self.plugins is not None:
                from stax.symbolication import symbolicate_frames

                self.db.execute("COMMIT")
                self.db.execute("BEGIN")
                options = dict(symbol_options or {})
                if self.address_spaces.jitdump_paths:  # JIT sources find each pid's jitdump here
                    options.setdefault(JITDUMP_PATHS_OPTION, {
                        pid: tuple(paths) for pid, paths in self.address_spaces.jitdump_paths.items()})
                for pid, proc in self.processes.items():  # still running: it may have changed user
                    if proc["end_time"] is None:
                        self._note_owners(pid)
                options.setdefault(PROCESS_OWNERS_OPTION, {
                    pid: tuple(sorted(uids)) for pid, uids in self.process_owners.items()})
                warnings = symbolicate_frames(self.db, self.images, self.frames, self.plugins, options)
                warnings += self._store_function_code(options)
            self._classify_off_cpu_by_stack()
            if self._truncated_frame_id is not None:  # named by us, whatever the symbol sources said
                self.db.execute("UPDATE frames SET function=? WHERE id=?",
                                (TRUNCATED_FRAME, self._truncated_frame_id))
            self.set_meta({"sample_count": self.sample_count, "off_cpu_spans": self.off_cpu_count,
                           "wakeups": self.wakeup_count,
                           "address_mappings": len(self.address_spaces.mappings()),
                           STATE_KEY: STATE_COMPLETE})
            self.db.executemany(
                "INSERT INTO mappings VALUES (?,?,?,?,?)",
                ((pid, img, to_sql_u64(s), to_sql_u64(e), off)
                 for pid, img, s, e, off in self.address_spaces.mappings()),
            )
            self.db.execute("COMMIT")
            self._complete = True
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one self-contained file again
            self.db.execute("PRAGMA journal_mode=DELETE")
            self.db.close()
        return warnings

    def _store_function_code(self, options: Mapping[str, object]) -> list[str]:
        """Keep the code of the functions with samples, for ``stax annotate`` (bounded)."""
        from stax.function_code_store import CODE_META_KEY, store_function_code

        summary, warnings = store_function_code(self.db, self.images, self.frames, self.stacks,
                                                self.plugins, options)  # type: ignore[arg-type]
        self.set_meta({CODE_META_KEY: summary.as_meta()})
        return warnings

    def abandon(self) -> None:
        """Close after a failed capture: keep what was recorded, remove a file that holds nothing."""
        if not self._failed:
            try:
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
