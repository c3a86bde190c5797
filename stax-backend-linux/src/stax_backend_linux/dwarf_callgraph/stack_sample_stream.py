"""The step between time ordering and the sink that holds samples with user dumps back for unwinding.

During capture, every :class:`~stax_backend_linux.dwarf_callgraph.stack_sample.StackSample`
and every off-CPU :class:`~stax_backend_linux.off_cpu.records.DumpedInterval` goes to the
on-disk spool and nothing is unwound: the profiled program keeps the CPU.  That is
``--call-graph dwarf`` (the whole user stack from CFI, over 8 KiB copies).

``--call-graph fp``, the default hybrid mode (the kernel's frame-pointer walk with its
leaf repaired by CFI), unwinds in the stream instead, as the records arrive: its work
per stack is a cached row lookup or a short memoised walk over a 512-byte copy, and
samples delivered at once reach the recording's once-a-second commits, so an
interrupted or killed ``stax record`` keeps them, as with frame pointers alone.

Image loads, forks, execs and everything else go to the sink as usual, and the
image loads, forks and execs also feed the unwinder's per-process mappings.  After
the target stops, :meth:`DwarfSampleStream.finish` replays the spool, unwinds each
sample and hands the :class:`stax.events.Sample` events to the sink.

Why that is correct: the sink (core's RecordingBuilder) resolves a sample's addresses
with the mappings it has seen *when the sample arrives*.  Samples delivered at the
end see each process's final mappings, which are right for every sample unless a
mapping changed under it.  So before an event that changes what an already-mapped
address means — an exec, a mapping that overlaps an existing one (dlclose + dlopen
at the same address), a new process reusing a pid — the held samples of that process
are unwound and delivered first, in the same batch, ahead of the event: the sink then
resolves them with the mappings they were taken under, as in frame-pointer mode.
Those few samples are unwound during capture; with ``sh -c ./prog`` that is the
shell's handful.  Off-CPU intervals are held and delivered the same way (the
recording builder takes them in any order).
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Iterator, Sequence

from stax.contracts import RecordRequest
from stax.errors import CaptureError, UsageError
from stax.event_columns import EventColumns
from stax.events import Event, ImageLoad, ThreadName, ThreadStart
from stax_backend_linux.decode.record_decoder import RecordDecoder
from stax_backend_linux.decode.user_dump import UserDumpLayout
from stax_backend_linux.dwarf_callgraph.column_repair import repair_columns
from stax_backend_linux.dwarf_callgraph.spool import StackSampleSpool
from stax_backend_linux.dwarf_callgraph.stack_sample import StackSample
from stax_backend_linux.dwarf_callgraph.unwind_pass import DwarfUnwindPass
from stax_backend_linux.off_cpu.records import DumpedInterval
from stax_binfmt.perf_dwarf_callgraph import HYBRID_STACK_SIZE, MAX_STACK_SIZE, MIN_STACK_SIZE, DwarfSampling

DUMP_MODES = {"fp": HYBRID_STACK_SIZE, "dwarf": 8192}
"""The --call-graph modes that copy user registers and stack, and their default copy size
(``fp-only`` copies nothing)."""

REPLAY_BATCH = 8192


class DwarfSampleStream:
    """Spools DWARF samples during capture and unwinds them after it (see module doc)."""

    def __init__(self, sampling: DwarfSampling, spool_directory: str | None = None,
                 max_stack: int = 127) -> None:
        self.sampling = sampling
        self.layout = UserDumpLayout(sampling.regs_mask)
        self.spool = StackSampleSpool(spool_directory) if not sampling.user_callchain else None
        """The spool of held samples (``dwarf``); None in hybrid mode, which unwinds in the stream."""
        self.streamed = 0
        """Hybrid: samples and spans unwound in the stream."""
        self.streamed_stack_bytes = 0
        self.unwinder = DwarfUnwindPass(sampling.regs_mask, hybrid=sampling.user_callchain,
                                        max_stack=max_stack)
        self._held: dict[int, array] = {}
        """pid -> spool offsets of its samples not delivered yet."""
        self._delivered_early: set[int] = set()
        self.early_samples = 0
        self.unwind_seconds = 0.0

    @classmethod
    def for_request(cls, request: RecordRequest, decoder: RecordDecoder) -> DwarfSampleStream | None:
        """The stream for ``--call-graph fp`` (hybrid) or ``dwarf`` (None for ``fp-only``), wired into
        ``decoder``; ``request.dwarf_stack_size`` 0 is the mode's default copy size."""
        mode = request.call_graph
        if mode not in DUMP_MODES:
            return None
        size = request.dwarf_stack_size or DUMP_MODES[mode]
        try:
            sampling = DwarfSampling.hybrid(size) if mode == "fp" else DwarfSampling.for_size(size)
        except ValueError:
            raise UsageError(f"--call-graph {mode},{size}: the stack size must be "
                             f"from {MIN_STACK_SIZE} to {MAX_STACK_SIZE} bytes.") from None
        try:
            stream = cls(sampling, max_stack=decoder.max_stack)
        except OSError as exc:
            raise CaptureError(f"Cannot create the temporary file for user stack copies ({exc.strerror}); "
                               f"set TMPDIR to a writable directory.") from None
        decoder.dump = stream.layout
        return stream

    def process(self, events: Sequence[object]) -> list[Event]:
        """Take the samples out of one time-ordered batch; pass the rest on (see module doc)."""
        out: list[Event] = []
        append = out.append
        unwinder = self.unwinder
        held = self._held
        spool = self.spool
        if spool is None:
            return self._unwind_now(events)
        write = spool.write
        write_interval = spool.write_interval
        for event in events:
            kind = type(event)
            if kind is StackSample or kind is DumpedInterval:
                offsets = held.get(event.pid)  # type: ignore[attr-defined]
                if offsets is None:
                    offsets = held[event.pid] = array("Q")  # type: ignore[attr-defined]
                offsets.append(write(event) if kind is StackSample else write_interval(event))  # type: ignore[arg-type]
                continue
            if kind is ImageLoad:
                if unwinder.replaces_mapping(event):  # type: ignore[arg-type]
                    out.extend(self._deliver_held(event.pid))  # type: ignore[attr-defined]
                unwinder.image_load(event)  # type: ignore[arg-type]
            elif kind is ThreadName and event.is_exec:  # type: ignore[attr-defined]
                out.extend(self._deliver_held(event.pid))  # type: ignore[attr-defined]
                unwinder.exec(event.pid)  # type: ignore[attr-defined]
            elif kind is ThreadStart and event.pid == event.tid != event.parent_pid:  # type: ignore[attr-defined]
                out.extend(self._deliver_held(event.pid))  # type: ignore[attr-defined]
                unwinder.fork(event.parent_pid, event.pid)  # type: ignore[attr-defined]
            append(event)  # type: ignore[arg-type]
        return out

    def _unwind_now(self, events: Sequence[object]) -> list[Event]:
        """Hybrid mode: each sample and span unwound where it is, with its process's mappings of now."""
        started = time.process_time()
        out: list[Event] = []
        append = out.append
        unwinder = self.unwinder
        sample = unwinder.sample
        interval = unwinder.interval
        streamed = stack_bytes = 0
        for event in events:
            kind = type(event)
            if kind is StackSample:
                streamed += 1
                stack_bytes += len(event.stack)  # type: ignore[attr-defined]
                append(sample(event))  # type: ignore[arg-type]
                continue
            if kind is DumpedInterval:
                streamed += 1
                stack_bytes += len(event.stack)  # type: ignore[attr-defined]
                append(interval(event))  # type: ignore[arg-type]
                continue
            if kind is EventColumns:  # the compiled path's run: each distinct copy repaired once
                rows, nbytes = repair_columns(event, unwinder)  # type: ignore[arg-type]
                streamed += rows
                stack_bytes += nbytes
            elif kind is ImageLoad:
                unwinder.image_load(event)  # type: ignore[arg-type]
            elif kind is ThreadName and event.is_exec:  # type: ignore[attr-defined]
                unwinder.exec(event.pid)  # type: ignore[attr-defined]
            elif kind is ThreadStart and event.pid == event.tid != event.parent_pid:  # type: ignore[attr-defined]
                unwinder.fork(event.parent_pid, event.pid)  # type: ignore[attr-defined]
            append(event)  # type: ignore[arg-type]
        self.streamed += streamed
        self.streamed_stack_bytes += stack_bytes
        self.unwind_seconds += time.process_time() - started
        return out

    def _deliver_held(self, pid: int) -> list[Event]:
        offsets = self._held.pop(pid, None)
        if not offsets:
            return []
        read_at = self.spool.read_at
        unwound = self._unwound
        self._delivered_early.update(offsets)
        self.early_samples += len(offsets)
        return [unwound(read_at(offset)) for offset in offsets]

    def _unwound(self, record: StackSample | DumpedInterval) -> Event:
        if type(record) is StackSample:
            return self.unwinder.sample(record)
        return self.unwinder.interval(record)  # type: ignore[arg-type]

    def finish(self, batch_size: int = REPLAY_BATCH) -> Iterator[list[Event]]:
        """Unwind every sample still held, in time order, in batches for the sink."""
        if self.spool is None:
            return
        started = time.process_time()
        early = self._delivered_early
        sample = self.unwinder.sample
        interval = self.unwinder.interval
        batch: list[Event] = []
        for offset, record in self.spool.replay():
            if early and offset in early:
                continue
            batch.append(sample(record) if type(record) is StackSample else interval(record))  # type: ignore[arg-type]
            if len(batch) >= batch_size:
                self.unwind_seconds += time.process_time() - started
                yield batch
                started = time.process_time()
                batch = []
        self._held.clear()
        self.unwind_seconds += time.process_time() - started
        if batch:
            yield batch

    def notes(self) -> list[str]:
        """Sentences for the summary: files without unwind tables, many truncated stacks."""
        notes: list[str] = []
        unreadable = self.unwinder.unreadable_files()
        if unreadable and not self.unwinder.hybrid:  # hybrid: those keep their frame-pointer stacks
            first = next(iter(unreadable.values()))
            more = f" (and {len(unreadable) - 1} more files)" if len(unreadable) > 1 else ""
            notes.append(f"Some user stacks stop early because {first}{more}.")
        u = self.unwinder
        if u.unwound and u.truncated / u.unwound > 0.2:
            exhausted = u.stop_reasons.get("stack copy exhausted", 0)
            if exhausted / u.unwound > 0.1:
                notes.append(f"{exhausted / u.unwound:.0%} of the user stacks were deeper than the "
                             f"{self.sampling.stack_size}-byte stack copy and are marked [truncated]; "
                             f"record with a larger --call-graph dwarf,SIZE (up to 65528).")
        return notes

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()
