"""The step between time ordering and the sink that holds DWARF-mode samples back for unwinding.

During capture, every :class:`~stax_backend_linux.dwarf_callgraph.stack_sample.StackSample`
goes to the on-disk spool and nothing is unwound: the profiled program keeps the
CPU.  Image loads, forks, execs and everything else go to the sink as usual, and the
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
shell's handful.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Iterator, Sequence

from stax.contracts import RecordRequest
from stax.errors import CaptureError, UsageError
from stax.events import Event, ImageLoad, ThreadName, ThreadStart
from stax_backend_linux.decode.record_decoder import RecordDecoder
from stax_backend_linux.dwarf_callgraph.spool import StackSampleSpool
from stax_backend_linux.dwarf_callgraph.stack_sample import StackSample, StackSampleLayout
from stax_backend_linux.dwarf_callgraph.unwind_pass import DwarfUnwindPass
from stax_binfmt.perf_dwarf_callgraph import MAX_STACK_SIZE, MIN_STACK_SIZE, DwarfSampling

REPLAY_BATCH = 8192


class DwarfSampleStream:
    """Spools DWARF samples during capture and unwinds them after it (see module doc)."""

    def __init__(self, sampling: DwarfSampling, spool_directory: str | None = None) -> None:
        self.sampling = sampling
        self.layout = StackSampleLayout(sampling.regs_count)
        self.spool = StackSampleSpool(spool_directory)
        self.unwinder = DwarfUnwindPass(sampling.regs_mask)
        self._held: dict[int, array] = {}
        """pid -> spool offsets of its samples not delivered yet."""
        self._delivered_early: set[int] = set()
        self.early_samples = 0
        self.unwind_seconds = 0.0

    @classmethod
    def for_request(cls, request: RecordRequest, decoder: RecordDecoder) -> DwarfSampleStream | None:
        """The stream for a ``--call-graph dwarf`` request (None for ``fp``), wired into ``decoder``."""
        if request.call_graph != "dwarf":
            return None
        try:
            sampling = DwarfSampling.for_size(request.dwarf_stack_size)
        except ValueError:
            raise UsageError(f"--call-graph dwarf,{request.dwarf_stack_size}: the stack size must be "
                             f"from {MIN_STACK_SIZE} to {MAX_STACK_SIZE} bytes.") from None
        try:
            stream = cls(sampling)
        except OSError as exc:
            raise CaptureError(f"Cannot create the temporary file for DWARF samples ({exc.strerror}); "
                               f"set TMPDIR to a writable directory.") from None
        decoder.stack_samples = stream.layout
        return stream

    def process(self, events: Sequence[object]) -> list[Event]:
        """Take the samples out of one time-ordered batch; pass the rest on (see module doc)."""
        out: list[Event] = []
        append = out.append
        unwinder = self.unwinder
        held = self._held
        write = self.spool.write
        for event in events:
            kind = type(event)
            if kind is StackSample:
                offsets = held.get(event.pid)  # type: ignore[attr-defined]
                if offsets is None:
                    offsets = held[event.pid] = array("Q")  # type: ignore[attr-defined]
                offsets.append(write(event))  # type: ignore[arg-type]
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

    def _deliver_held(self, pid: int) -> list[Event]:
        offsets = self._held.pop(pid, None)
        if not offsets:
            return []
        read_at = self.spool.read_at
        sample = self.unwinder.sample
        self._delivered_early.update(offsets)
        self.early_samples += len(offsets)
        return [sample(read_at(offset)) for offset in offsets]

    def finish(self, batch_size: int = REPLAY_BATCH) -> Iterator[list[Event]]:
        """Unwind every sample still held, in time order, in batches for the sink."""
        started = time.process_time()
        early = self._delivered_early
        sample = self.unwinder.sample
        batch: list[Event] = []
        for offset, record in self.spool.replay():
            if early and offset in early:
                continue
            batch.append(sample(record))
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
        if unreadable:
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
        self.spool.close()
