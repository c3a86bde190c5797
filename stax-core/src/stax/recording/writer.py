"""Build a ``.stax`` file from the event stream while capture runs.

:class:`RecordingBuilder` is the :class:`stax.contracts.EventSink` a backend feeds.
It is the record pipeline's last leg, in three parts:

* :class:`~stax.recording.interner.StackInterner` resolves raw addresses to (image,
  offset) frames and interns frames and whole stacks;
* :class:`~stax.recording.thread_table.ThreadTable` follows processes and threads;
* :class:`~stax.recording.sqlite_writer.RecordingFile` appends the rows and commits
  about once a second, so a recorder that is killed leaves a readable file up to its
  last commit (``meta.state`` says ``"recording"`` until the end); a failed write
  (the disk is full) becomes one :class:`~stax.errors.RecordingWriteError` sentence.

``finish`` commits everything captured, runs the post-capture passes
(:data:`stax.recording.post_capture_passes.POST_CAPTURE_PASSES`: link wakeups,
per-(thread, stack) totals, symbolicate, reclassify blocked reasons, ...) and marks the
file complete.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from stax.capabilities import CapabilityRow
from stax.event_columns import EventColumns
from stax.events import (
    CounterValues,
    Event,
    ImageLoad,
    LostNotice,
    OffCpuInterval,
    Sample,
    ThreadExit,
    ThreadName,
    ThreadStart,
    Wakeup,
)
from stax.recording.interner import StackInterner
from stax.recording.post_capture_passes import POST_CAPTURE_PASSES, FinishingRecording
from stax.recording.sqlite_writer import RecordingFile
from stax.recording.thread_table import ThreadTable
from stax.stack_table import SampleColumns

if TYPE_CHECKING:
    import sqlite3

    from stax.plugin_manager import StaxPlugins

COMMIT_INTERVAL_S = 1.0


class RecordingBuilder:
    """The sink that turns decoded events into a recording file."""

    accepts_columns = True
    """Runs of samples, spans and wakeups may come as :class:`stax.event_columns.EventColumns`."""

    def __init__(self, path: Path, plugins: StaxPlugins | None = None, *, force: bool = False) -> None:
        """``force``: replace a file at ``path`` that is not a recording (kept as NAME.old)."""
        self.plugins = plugins
        self.interner = StackInterner()
        self.thread_table = ThreadTable()
        self.file = RecordingFile(Path(path), self.interner, self.thread_table, force)
        self.path = self.file.path
        self._last_commit = time.monotonic()
        self._wakeup_base: int | None = None
        """Wakeup id of the backend's wakeup index 0 (EventColumns.span_wakeup), once one arrived."""

    # -- what the file holds so far -------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        return self.file.db

    @property
    def sample_count(self) -> int:
        return self.file.sample_count

    @property
    def off_cpu_count(self) -> int:
        return self.file.off_cpu_count

    @property
    def wakeup_count(self) -> int:
        return self.file.wakeup_count

    @property
    def committed_samples(self) -> int:
        """Samples made durable by the last commit: what a killed or disk-full recorder keeps."""
        return self.file.committed_samples

    # -- EventSink ------------------------------------------------------------------------------

    def consume(self, events: Sequence[Event]) -> None:
        intern_stack = self.interner.intern_stack
        threads = self.thread_table
        file = self.file
        batch = SampleColumns()
        for event in events:
            kind = type(event)
            if kind is Sample:
                stack_id = intern_stack(event.pid, event.kernel_ips, event.user_ips,
                                        event.user_stack_truncated)
                batch.append(event.time, event.pid, event.tid, event.cpu, stack_id, event.weight)
                threads.thread(event.pid, event.tid, event.time)
            elif kind is ImageLoad:
                self.interner.address_spaces.add(event)
            elif kind is ThreadName:
                threads.named(event)
                if event.is_exec:
                    self.interner.exec(event.pid)
            elif kind is ThreadStart:
                if threads.started(event):
                    self.interner.fork(event.parent_pid, event.pid)
            elif kind is ThreadExit:
                threads.exited(event)
            elif kind is LostNotice:
                file.add_lost(event.cpu, str(event.kind), event.count)
            elif kind is OffCpuInterval:
                stack_id = intern_stack(event.pid, event.kernel_ips, event.user_ips)
                file.add_off_cpu((event.start, event.end, event.pid, event.tid, event.cpu,
                                  str(event.reason), event.wait_site, stack_id))
                threads.thread(event.pid, event.tid, event.start)
            elif kind is Wakeup:
                stack_id = intern_stack(event.waker_pid, event.kernel_ips, event.user_ips)
                file.add_wakeup(event.time, event.cpu, event.waker_pid, event.waker_tid, event.wakee_pid,
                                event.wakee_tid, stack_id)
            elif kind is EventColumns:
                self._consume_columns(event, batch)  # type: ignore[arg-type]
            elif kind is CounterValues:
                file.counters.append(event)
        if len(batch):
            file.append_samples(batch)
        if time.monotonic() - self._last_commit >= COMMIT_INTERVAL_S:
            self.commit()

    def _consume_columns(self, run: EventColumns, batch: SampleColumns) -> None:
        """A run of samples, spans and wakeups in columns (stax.event_columns), stacks by raw index."""
        threads, file = self.thread_table, self.file
        intern_raw = self.interner.intern_raw
        for pid, tid, when in zip(run.thread_pid, run.thread_tid, run.thread_time, strict=True):
            threads.thread(pid, tid, when)
        if len(run.sample_time):
            if len(batch):  # the samples before the run go first
                file.append_samples(batch)
                batch.clear()
            stack_ids = intern_raw(run.stacks, run.sample_stack)
            pid, tid, stack, count, weight = run.stacks.add_up(run.sample_pid, run.sample_tid, stack_ids,
                                                               run.sample_weight)
            file.append_samples(SampleColumns(run.sample_time, run.sample_pid, run.sample_tid, run.sample_cpu,
                                              stack_ids, run.sample_weight),
                                totals=zip(pid, tid, stack, count, weight, strict=True))
        if len(run.wake_time):  # before the spans: a span's wakeup came first, maybe in this run
            if self._wakeup_base is None:
                self._wakeup_base = file.wakeup_count - run.wake_first
            file.add_wakeup_columns((run.wake_time, run.wake_cpu, run.wake_waker_pid, run.wake_waker_tid,
                                     run.wake_wakee_pid, run.wake_wakee_tid,
                                     intern_raw(run.stacks, run.wake_stack)))
        if len(run.span_start):
            base = self._wakeup_base or 0
            wakeup_ids = run.span_wakeup if not base else array(  # NO_WAKEUP (-1) stays
                "q", [w if w < 0 else w + base for w in run.span_wakeup])
            file.add_off_cpu_columns((run.span_start, run.span_end, run.span_pid, run.span_tid, run.span_cpu,
                                      run.span_reason, run.span_wait_site,
                                      intern_raw(run.stacks, run.span_stack), wakeup_ids))

    # -- writing --------------------------------------------------------------------------------

    def commit(self) -> None:
        """Make everything so far durable: a killed recorder keeps it."""
        self.file.commit()
        self._last_commit = time.monotonic()
        self._wakeup_base: int | None = None
        """Wakeup id of the backend's wakeup index 0 (EventColumns.span_wakeup), once one arrived."""

    def set_meta(self, values: Mapping[str, object]) -> None:
        """Store ``values`` (JSON) under their keys (stax.recording.meta_keys) in the meta table."""
        self.file.set_meta(values)

    def set_capabilities(self, rows: Sequence[CapabilityRow]) -> None:
        self.file.set_capabilities(rows)

    def finish(self, symbolicate: bool = True, symbol_options: Mapping[str, object] | None = None,
               ) -> list[str]:
        """Commit what was captured, run the post-capture passes, mark the file complete, close it.

        Everything captured is committed first, so a disk that fills up during the
        derived tables or symbolication loses none of the samples.  Returns the
        symbolication warnings (one sentence each).
        """
        self.commit()
        recording = FinishingRecording(self.file, self.interner, self.thread_table, self.plugins,
                                       symbolicate, dict(symbol_options or {}))
        with self.file.writing():
            for run_pass in POST_CAPTURE_PASSES:
                run_pass(recording)
        self.file.complete()
        return recording.warnings

    def abandon(self) -> None:
        """Close after a failed capture: keep what was recorded, remove a file that holds nothing."""
        self.file.abandon()
