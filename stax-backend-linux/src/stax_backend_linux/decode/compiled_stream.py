"""The drain round in compiled code: scan, time order, off-CPU spans and wakeups, raw stacks.

With the compiled decoder loaded, in ``--call-graph fp-only`` and in the default hybrid
``--call-graph fp`` (see :func:`for_decoder`), a
:class:`CompiledStream` replaces three Python steps of a round -- the record decoder's
hot records, the time orderer (time_order.py) and the off-CPU stream
(off_cpu/stream.py, switch_tracker.py, wakeup_attribution.py) -- with fast_stream.c, which
does the same record for record.  Out come the rare events as objects (images, threads,
lost counts: decoded here by the Python decoder) and, between them, runs of samples, spans
and wakeups as :class:`stax.event_columns.EventColumns` whose stacks index one shared
:class:`~stax.event_columns.RawStacks` (each distinct stack crosses into Python once).

Hybrid unwinding: samples and switch-out stacks carry the user registers and a 512-byte
stack copy.  fast_stream.c keeps one raw stack per distinct (stack, registers, copy), so
a loop that samples or blocks in the same place crosses once; :class:`DumpedRawStacks`
holds each one's copy, and the unwinding stage
(dwarf_callgraph/column_repair.py) repairs each distinct copy per run and points the run's
rows at the repaired stacks.

The Python path stays the reference: tests/backend_linux/decode/test_compiled_stream.py holds the two to
the same events on the same ring bytes.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from stax.blocked_reason import BlockedReason
from stax.event_columns import EventColumns, RawStacks
from stax.events import Event, Sample, ThreadExit, ThreadName, ThreadStart
from stax_backend_linux.capture.proc_snapshot import thread_name
from stax_backend_linux.decode.record_decoder import KIND_NO_IP, PERF_RECORD_MISC_SWITCH_OUT
from stax_backend_linux.dwarf_callgraph.mapping_changes import changed_mappings
from stax_backend_linux.dwarf_callgraph.stack_sample import StackSample
from stax_backend_linux.off_cpu.reasons import read_wchan, reason_from_wchan
from stax_backend_linux.off_cpu.records import SwitchRecord, SwitchStack, WakingRecord

if TYPE_CHECKING:
    from stax_backend_linux.decode.fast_decoder import FastScan
    from stax_backend_linux.decode.record_decoder import RecordDecoder

PREEMPTED = str(BlockedReason.PREEMPTED)
OTHER = str(BlockedReason.OTHER)
PERF_RECORD_MISC_SWITCH_OUT_PREEMPT = 1 << 14


class CompiledStream:
    """One capture's fast_stream.c state (see the module doc); ``decoder`` decodes the rare records."""

    def __init__(self, fast: FastScan, decoder: RecordDecoder) -> None:
        self.ffi = ffi = fast.ffi
        self.lib = lib = fast.lib
        self.decoder = decoder
        state = lib.stax_stream_new(1 if decoder.identifier else 0, -1, decoder.max_stack)
        if state == ffi.NULL:
            raise MemoryError("the compiled capture stream could not allocate its state")
        self._s = ffi.gc(state, lib.stax_stream_free)
        self.stacks: CompiledRawStacks = CompiledRawStacks(ffi, lib)
        if decoder.dump is not None:
            lib.stax_stream_dumps(state, decoder.dump.regs_bytes)
            self.stacks = DumpedRawStacks(self)
        self._side: dict[int, Event] = {}
        self._next_side = 0
        self._kinds_key: tuple[tuple[int, int], ...] | None = None
        self._ids: Any = None
        self._kind_of: Any = None
        self._counted = [0, 0, 0, 0]  # samples, switch records, switch stacks, wakings (already in decoder)
        self._n = ffi.new("size_t *")
        self._meta = ffi.new("uint32_t[4]")
        self._meta_at = tuple(self._meta + i for i in range(4))
        self._counts = ffi.new("uint64_t[]", lib.STAX_COUNTS)
        self._sizes = ffi.new("uint64_t[]", lib.STAX_SIZES)
        self._column_ids = {name: getattr(lib, f"STAX_COL_{name.upper()}") for name in _COLUMN_NAMES}
        self.use_wchan = False
        self.wchan_reads = 0
        self.wchan_hits = 0
        self._wchan: dict[tuple[int, int], str] = {}
        self._wakeups_delivered = 0
        self.name_from_proc = True
        """Name the threads outside the target on either side of a wakeup from /proc (OffCpuStream's rule)."""
        self._named: set[int] = {0}

    # -- set up ---------------------------------------------------------------------------------

    def off_cpu(self, *, keep_kernel_ips: bool, wakeups: bool, target_only: bool, use_wchan: bool) -> None:
        """Track off-CPU spans (and wakeups, when sched_waking is open) as the off-CPU stage would."""
        self.lib.stax_stream_off_cpu(self._s, 1 if keep_kernel_ips else 0, 1 if wakeups else 0,
                                     1 if target_only else 0)
        self.use_wchan = use_wchan

    def layout(self, layout: dict[str, int]) -> None:
        """Read records of this layout (a perf.data file's: SampleLayout.compiled), not stax record's."""
        self.lib.stax_stream_layout(self._s, self.ffi.new("stax_layout *", layout))

    def seed(self, pid_tids: Iterable[tuple[int, int]]) -> None:
        """Threads known before any record arrives (the command, or ``-p``'s threads)."""
        for pid, tid in pid_tids:
            self.lib.stax_stream_seed(self._s, pid, tid)

    def count(self, counter: int) -> int:
        return int(self.lib.stax_stream_count(self._s, counter))

    def add(self, events: Iterable[Event]) -> None:
        """Queue events older than anything a ring will still deliver (TimeOrderer.add)."""
        for event in events:
            side, tag = self._keep(event)
            if self.lib.stax_stream_add_other(self._s, tag, event.time, getattr(event, "pid", 0) & 0xFFFFFFFF,
                                              getattr(event, "tid", 0) & 0xFFFFFFFF, side):
                raise MemoryError("the compiled capture stream could not queue an event")

    # -- a round --------------------------------------------------------------------------------

    def round(self, per_ring: Sequence[bytes], final: bool = False) -> list[Event]:
        """Scan one round's chunks (one per ring) and return what is now in time order."""
        for chunk in per_ring:
            if chunk:
                self._scan(chunk)
        if self.use_wchan:
            self._note_wchan()
        if self.lib.stax_stream_round(self._s, 1 if final else 0):
            raise MemoryError("the compiled capture stream ran out of memory")
        return self._collect()

    def flush(self) -> list[Event]:
        """Everything still held, in order (capture is over)."""
        return self.round((), final=True)

    def finish(self, end_time: int) -> list[Event]:
        """The spans still open when recording stopped, closed at ``end_time``."""
        if self.lib.stax_stream_finish(self._s, end_time):
            raise MemoryError("the compiled capture stream ran out of memory")
        out = self._collect()
        self._wchan.clear()
        return out

    # -- internals ------------------------------------------------------------------------------

    def _kinds(self) -> tuple[Any, Any, int]:
        decoder = self.decoder
        key = tuple((event, kind | (KIND_NO_IP if event in decoder.without_ip else 0))
                    for event, kind in decoder.kinds.items())
        if key != self._kinds_key:
            self._kinds_key = key
            self._ids = self.ffi.new("uint64_t[]", [event for event, _ in key] or [0])
            self._kind_of = self.ffi.new("int32_t[]", [kind for _, kind in key] or [0])
        return self._ids, self._kind_of, len(key)

    def _scan(self, chunk: bytes) -> None:
        lib, s, decoder = self.lib, self._s, self.decoder
        ids, kind_of, nids = self._kinds()
        others = lib.stax_stream_scan(s, self.ffi.from_buffer(chunk), len(chunk), ids, kind_of, nids,
                                      decoder.waking_pid_offset)
        if others < 0:
            raise MemoryError("the compiled capture stream ran out of memory")
        lib.stax_stream_counts(s, self._counts)
        counts = list(self._counts[0:4])
        done = self._counted
        decoder.samples += counts[0] - done[0]
        decoder.switch_records += counts[1] - done[1]
        decoder.switch_stacks += counts[2] - done[2]
        decoder.wakings += counts[3] - done[3]
        self._counted = counts
        if not others:
            return
        columns = self._column_ids
        rare = zip(self._column(columns["other_offset"]), self._column(columns["other_size"]),
                   self._column(columns["other_entry"]), strict=True)
        for off, size, at in rare:
            for event in decoder._decode_range(chunk, off, off + size):
                self._place(at, event)

    def _place(self, at: int, event: Event) -> None:
        """Say what the Python decoder made of an OTHER record (its entry ``at``)."""
        lib, s, ffi = self.lib, self._s, self.ffi
        kind = type(event)
        if kind is Sample or kind is SwitchStack or kind is WakingRecord or kind is StackSample:
            k, u = event.kernel_ips, event.user_ips  # type: ignore[attr-defined]
            kernel = ffi.new("uint64_t[]", list(k) or [0])
            user = ffi.new("uint64_t[]", list(u) or [0])
            regs = getattr(event, "regs", b"")
            stack = getattr(event, "stack", b"")
            if kind is StackSample:
                args = (lib.STAX_TAG_SAMPLE, event.pid, event.tid, event.weight,  # type: ignore[attr-defined]
                        1 if len(k) + len(u) >= self.decoder.max_stack else 0)
            elif kind is Sample:
                args = (lib.STAX_TAG_SAMPLE, event.pid, event.tid, event.weight,  # type: ignore[attr-defined]
                        1 if event.user_stack_truncated else 0)  # type: ignore[attr-defined]
            elif kind is SwitchStack:
                args = (lib.STAX_TAG_SWITCH_STACK, event.pid, event.tid, 0, 0)  # type: ignore[attr-defined]
            else:
                args = (lib.STAX_TAG_WAKING, event.waker_pid, event.waker_tid,  # type: ignore[attr-defined]
                        event.wakee_tid, 0)  # type: ignore[attr-defined]
            tag, pid, tid, extra, truncated = args
            if lib.stax_stream_set_hot(s, at, tag, event.time, pid, tid, event.cpu,  # type: ignore[attr-defined]
                                       extra, kernel, len(k), user, len(u), truncated, regs, len(regs),
                                       stack, len(stack)):
                raise MemoryError("the compiled capture stream ran out of memory")
            return
        if kind is SwitchRecord:
            misc = ((PERF_RECORD_MISC_SWITCH_OUT if event.out else 0)  # type: ignore[attr-defined]
                    | (PERF_RECORD_MISC_SWITCH_OUT_PREEMPT if event.preempted else 0))  # type: ignore[attr-defined]
            lib.stax_stream_set_hot(s, at, lib.STAX_TAG_SWITCH, event.time, event.pid,  # type: ignore[attr-defined]
                                    event.tid, event.cpu, misc, ffi.NULL, 0, ffi.NULL, 0, 0,  # type: ignore[attr-defined]
                                    ffi.NULL, 0, ffi.NULL, 0)
            return
        side, tag = self._keep(event)
        lib.stax_stream_set_other(s, at, tag, event.time, getattr(event, "pid", 0) & 0xFFFFFFFF,
                                  getattr(event, "tid", 0) & 0xFFFFFFFF, side)

    def _keep(self, event: Event) -> tuple[int, int]:
        """Hold a rare event until its turn: (its side index, the entry tag saying its effect)."""
        lib = self.lib
        side = self._next_side
        self._next_side += 1
        self._side[side] = event
        kind = type(event)
        if self.decoder.dump is not None:
            pid = changed_mappings(event)
            if pid is not None:
                lib.stax_stream_maps_changed(self._s, pid & 0xFFFFFFFF)
        if kind is ThreadStart:
            return side, lib.STAX_OTHER_START
        if kind is ThreadName:
            return side, lib.STAX_OTHER_NAME
        if kind is ThreadExit:
            return side, lib.STAX_OTHER_EXIT
        return side, lib.STAX_OTHER_PLAIN

    def _note_wchan(self) -> None:
        """wchan now for threads whose newest switch this round was voluntary (switch_tracker.note_round)."""
        if not self.lib.stax_stream_newest_switches(self._s):
            return
        col, ids = self._column, self._column_ids
        for pid, tid, when in zip(col(ids["newest_pid"]), col(ids["newest_tid"]), col(ids["newest_time"]),
                                  strict=True):
            self.wchan_reads += 1
            name = read_wchan(pid, tid)
            if name:
                self.wchan_hits += 1
                self._wchan[(tid, when)] = name

    def _column(self, column: int) -> array:
        ptr = self.lib.stax_stream_column(self._s, column, self._n)
        out = array("q")
        n = self._n[0]
        if n:
            out.frombytes(self.ffi.buffer(ptr, n * 8))
        return out

    def _new_stacks(self) -> None:
        lib, s, meta = self.lib, self._s, self._meta
        entries = self.stacks.entries
        dumps = getattr(self.stacks, "dumps", None)
        kept = getattr(self.stacks, "kept", None)
        kept_mark = lib.STAX_DUMP_KEPT
        total = lib.stax_stream_stacks(s)
        unpack, buffer = self.ffi.unpack, self.ffi.buffer
        stack, stack_dump = lib.stax_stream_stack, lib.stax_stream_stack_dump
        m0, m1, m2, m3 = self._meta_at
        for raw in range(len(entries), total):
            ips = stack(s, raw, m0, m1, m2, m3)
            pid, nk, nu, truncated = meta
            words = unpack(ips, nk + nu) if nk + nu else ()
            entries.append((pid, tuple(words[:nk]), tuple(words[nk:]), bool(truncated)))
            if dumps is not None:  # hybrid: one per distinct copy, or per kept place and copy size
                at = stack_dump(s, raw, m0, m1, m2)
                if meta[0] == kept_mark:
                    kept[raw] = meta[2]
                elif meta[0]:
                    nregs, nstack = meta[1], meta[2]
                    copy = buffer(at, nregs + nstack)[:] if nregs + nstack else b""
                    dumps[raw] = (copy[:nregs], copy[nregs:])

    def reserve(self, entry: tuple[int, tuple[int, ...], tuple[int, ...], bool]) -> int:
        """A new raw id holding ``entry`` (a repaired stack), one no scanned stack will get."""
        if self.lib.stax_stream_stacks(self._s) != len(self.stacks.entries):
            self._new_stacks()
        raw = self.lib.stax_stream_reserve(self._s)
        if not raw:
            raise MemoryError("the compiled capture stream ran out of memory")
        self.stacks.entries.append(entry)
        return int(raw)

    def _collect(self) -> list[Event]:
        """The round's output: side events in place, columns of the hot events between them."""
        lib, s = self.lib, self._s
        if lib.stax_stream_stacks(s) != len(self.stacks.entries):
            self._new_stacks()
        lib.stax_stream_sizes(s, self._sizes)
        sizes = tuple(self._sizes[0:5])
        if not any(sizes):
            return []
        col, ids = self._column, self._column_ids
        c = {name: col(ids[name]) for index, names in enumerate(_GROUPS) if sizes[index] for name in names}
        if sizes[1]:
            c["span_preempted"] = col(ids["span_preempted"])
        totals = sizes[:4]
        out: list[Event] = []
        at = (0, 0, 0, 0)
        if sizes[4]:
            marks = zip(*(col(ids[name]) for name in _MARK_COLUMNS), strict=True)
            for side, *upto in marks:
                end = tuple(upto)
                if end != at:
                    self._add_run(out, self._run(c, at, end, totals))  # type: ignore[arg-type]
                event = self._side.pop(side)
                if type(event) in (ThreadStart, ThreadName):
                    self._named.add(event.tid)  # type: ignore[attr-defined]
                out.append(event)
                at = end  # type: ignore[assignment]
        if totals != at:
            self._add_run(out, self._run(c, at, totals, totals))  # type: ignore[arg-type]
        self._wakeups_delivered += sizes[2]
        lib.stax_stream_clear(s)
        return out

    def _add_run(self, out: list[Event], run: EventColumns) -> None:
        """The run, then a ThreadName from /proc for each thread outside the target its wakeups name first.

        The Python path (off_cpu/stream.py) names them as each wakeup passes, so a run's
        names follow it in the order of its wakeups.
        """
        out.append(run)
        if not self.name_from_proc or not len(run.wake_time):
            return
        named = self._named
        for when, waker_pid, waker_tid, wakee_pid, wakee_tid in zip(
                run.wake_time, run.wake_waker_pid, run.wake_waker_tid, run.wake_wakee_pid, run.wake_wakee_tid,
                strict=True):
            for pid, tid in ((waker_pid, waker_tid), (wakee_pid, wakee_tid)):
                if tid not in named:
                    named.add(tid)
                    name = thread_name(pid, tid, when)
                    if name is not None:
                        out.append(name)

    def _run(self, c: dict[str, array], start: tuple[int, ...], end: tuple[int, ...], totals: tuple[int, ...],
             ) -> EventColumns:
        """One EventColumns of rows [start, end) of each group (the columns left empty where none)."""
        run = EventColumns(self.stacks)
        whole = start == (0, 0, 0, 0) and end == totals
        for index, names in enumerate(_GROUPS):
            a, b = start[index], end[index]
            if a == b:
                continue
            for name in names:
                setattr(run, name, c[name] if whole else c[name][a:b])
        if end[2] > start[2]:
            run.wake_first = self._wakeups_delivered + start[2]
        if end[1] > start[1]:
            preempted = c["span_preempted"] if whole else c["span_preempted"][start[1]:end[1]]
            run.span_reason, run.span_wait_site = self._reasons(preempted, run)
        return run

    def _reasons(self, preempted: array, run: EventColumns) -> tuple[list[str], list[str]]:
        """Each span's blocked reason and wait site known at capture: preempted, else wchan, else other."""
        reasons = [PREEMPTED if p else OTHER for p in preempted]
        sites = [""] * len(reasons)
        if self.use_wchan and self._wchan:
            wchan = self._wchan
            for i, (p, tid, start) in enumerate(zip(preempted, run.span_tid, run.span_start, strict=True)):
                if not p:
                    name = wchan.pop((tid, start), "")
                    if name:
                        reason, sites[i] = reason_from_wchan(name)
                        reasons[i] = str(reason)
        return reasons, sites


_GROUPS = (
    ("sample_time", "sample_pid", "sample_tid", "sample_cpu", "sample_weight", "sample_stack"),
    ("span_start", "span_end", "span_pid", "span_tid", "span_cpu", "span_stack", "span_waker", "span_wakeup"),
    ("wake_time", "wake_cpu", "wake_waker_pid", "wake_waker_tid", "wake_wakee_pid", "wake_wakee_tid",
     "wake_stack"),
    ("thread_pid", "thread_tid", "thread_time"),
)
"""The EventColumns columns of samples, spans, wakeups and first-seen threads (a mark's counts' order)."""
_MARK_COLUMNS = ("mark_side", "mark_samples", "mark_spans", "mark_wakeups", "mark_threads")
_COLUMN_NAMES = (*(name for names in _GROUPS for name in names), "span_preempted", *_MARK_COLUMNS,
                 "other_offset", "other_size", "other_entry", "newest_pid", "newest_tid", "newest_time")


_ZERO = (0,)


class CompiledRawStacks(RawStacks):
    """The raw stacks of a compiled stream, whose per-row work on a run runs in C (fast_columns.c)."""

    __slots__ = ("_ffi", "_lib")

    def __init__(self, ffi: Any, lib: Any) -> None:
        super().__init__()
        self._ffi = ffi
        self._lib = lib

    def translate(self, table: array, raws: array) -> tuple[array, array]:
        n = len(raws)
        out, missing = array("q", _ZERO) * n, array("q", _ZERO) * n
        if not n:
            return out, missing
        buffer = self._ffi.from_buffer
        misses = self._lib.stax_gather(buffer("int64_t[]", table), len(table), buffer("int64_t[]", raws), n,
                                       buffer("int64_t[]", out, require_writable=True),
                                       buffer("int64_t[]", missing, require_writable=True))
        del missing[misses:]
        return out, missing

    def add_up(self, pid: array, tid: array, stack: array, weight: array) -> tuple[array, ...]:
        n = len(pid)
        groups = [array("q", _ZERO) * n for _ in range(5)]
        if not n:
            return tuple(groups)
        buffer = self._ffi.from_buffer
        inputs = (buffer("int64_t[]", column) for column in (pid, tid, stack, weight))
        outputs = (buffer("int64_t[]", column, require_writable=True) for column in groups)
        found = self._lib.stax_group3(*inputs, n, *outputs)
        if found < 0:
            raise MemoryError("adding up the samples ran out of memory")
        for column in groups:
            del column[found:]
        return tuple(groups)


class DumpedRawStacks(CompiledRawStacks):
    """The raw stacks of a hybrid capture: ``dumps`` holds (registers, stack copy) of each raw id
    whose record carried one; ``kept`` the raw ids of copies at a place whose kernel walk is kept
    (:meth:`keep_place`), with the copies' size; :meth:`add` gives a repaired stack its own raw id
    (once per value); ``kept_checked`` the unwinder's mapping epoch at which each kept raw id
    was last found kept (dwarf_callgraph/column_repair.py)."""

    __slots__ = ("_ids", "_stream", "dumps", "kept", "kept_checked")

    def __init__(self, stream: CompiledStream) -> None:
        super().__init__(stream.ffi, stream.lib)
        self.dumps: dict[int, tuple[bytes, bytes]] = {}
        self.kept: dict[int, int] = {}
        self.kept_checked: dict[int, int] = {}
        self._stream = stream
        self._ids: dict[tuple[int, tuple[int, ...], tuple[int, ...], bool], int] = {}

    def keep_place(self, pid: int, fp_ips: tuple[int, ...], changes: int) -> None:
        """The kernel's walk at ``fp_ips``' leaf and caller in ``pid`` is kept, decided with its mappings
        after ``changes`` mapping changes: later copies there need no bytes (refused by the scan when
        it has seen other changes of the pid since)."""
        caller = fp_ips[1] if len(fp_ips) > 1 else 0
        state = self._stream._s
        if self._lib.stax_stream_keep_place(state, pid & 0xFFFFFFFF, fp_ips[0], caller, changes) < 0:
            raise MemoryError("the compiled capture stream ran out of memory")

    def add(self, entry: tuple[int, tuple[int, ...], tuple[int, ...], bool]) -> int:
        raw = self._ids.get(entry)
        if raw is None:
            raw = self._ids[entry] = self._stream.reserve(entry)
        return raw


def for_decoder(decoder: RecordDecoder, *, hybrid: bool = False) -> CompiledStream | None:
    """The compiled stream for ``decoder``'s rings, or None where the Python path serves: no
    compiled decoder, or samples with a user register/stack dump other than ``hybrid``'s
    (``--call-graph dwarf``, whose samples are spooled and unwound after capture as objects)."""
    fast = decoder._fast
    if fast is None or (decoder.dump is not None and not hybrid):
        return None
    return CompiledStream(fast, decoder)
