"""One perf.data file opened for reading: header, events, features, and its records decoded in time order.

``stax import`` (:mod:`.importer`) reads files through it, and so do tests that need
perf's own samples (the unwinder's, tests/backend_linux/unwind): the file is mapped,
its header, attrs and feature sections read (:mod:`.header`, :mod:`.features`, or for
a pipe the records that carry them, :mod:`.pipe_stream`), each event given its kind
(:mod:`.event_kinds`) and its sample layout, and :meth:`PerfDataReader.events` walks
the data round by round (:mod:`.record_walker`) through the live decoder
(:class:`~stax_backend_linux.decode.record_decoder.RecordDecoder`) and the
:class:`~stax_backend_linux.decode.time_order.TimeOrderer`, as ``stax record`` does
with its rings.

When the on-CPU event copies user registers and stack (``perf record --call-graph
dwarf``: PERF_SAMPLE_REGS_USER + PERF_SAMPLE_STACK_USER), its samples decode into
:class:`~stax_backend_linux.dwarf_callgraph.stack_sample.StackSample` records with the
copy (:attr:`PerfDataReader.dump_sampling` says how big), for the DWARF unwinder.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from stax.event_columns import EventColumns
from stax.events import Event
from stax_backend_linux.decode import record_decoder as rd
from stax_backend_linux.decode.compiled_stream import CompiledStream
from stax_backend_linux.decode.record_decoder import RecordDecoder
from stax_backend_linux.decode.sample_layout import EventLayouts, SampleLayout
from stax_backend_linux.decode.time_order import TimeOrderer
from stax_backend_linux.decode.user_dump import UserDumpLayout
from stax_backend_linux.perf_data.event_kinds import ON_CPU, SIDE_BAND, EventKinds, classify_events
from stax_backend_linux.perf_data.features import PerfFeatures, read_features
from stax_backend_linux.perf_data.header import (
    PerfAttr,
    PerfDataError,
    PerfFileHeader,
    read_attrs,
    read_header,
)
from stax_backend_linux.perf_data.inflater import CompressedDataError
from stax_backend_linux.perf_data.pipe_stream import read_pipe_stream
from stax_backend_linux.perf_data.record_walker import DECODED, RecordWalker
from stax_binfmt.perf_dwarf_callgraph import DwarfSampling
from stax_binfmt.perf_event_attr import (
    PERF_SAMPLE_BRANCH_STACK,
    PERF_SAMPLE_RAW,
    PERF_SAMPLE_REGS_USER,
    PERF_SAMPLE_STACK_USER,
)

USER_DUMP = PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER


class PerfDataReader:
    """A perf.data file, mapped while the ``with`` block runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.notes: list[str] = []
        self.first: int | None = None
        """Time of the oldest event :meth:`events` delivered."""
        self.last: int | None = None
        """... and of the newest."""
        self._file: BinaryIO | None = None
        self._map: mmap.mmap | None = None

    # -- opening --------------------------------------------------------------------------------

    def __enter__(self) -> PerfDataReader:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _open(self) -> None:
        path = self.path
        size = path.stat().st_size
        f = self._file = path.open("rb")
        header: PerfFileHeader = read_header(f, path, size)
        self.header = header
        data = header.data
        self.start, self.end = data.offset, data.end
        if data.size == 0 and size > data.offset and not header.pipe:  # perf killed before the header
            self.end = size
            self.notes.append(
                f"The header of {path.name} gives no data size (perf record did not finish), "
                f"so records were read up to the end of the file."
            )
        if self.end <= self.start:
            raise PerfDataError(
                f"{path} holds no records (perf record wrote only its header); record it again."
            )
        self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        if header.pipe:
            view = memoryview(self._map)
            try:
                self.attrs, self.features = read_pipe_stream(view, self.start, self.end, path)
            finally:
                view.release()
        else:
            self.attrs = read_attrs(f, path, header, size)
            self.features: PerfFeatures = read_features(f, path, header, size)
        self.kinds: EventKinds = classify_events(self.attrs, self.features)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- what the events are --------------------------------------------------------------------

    @property
    def on_cpu(self) -> PerfAttr | None:
        """The event whose samples are the on-CPU profile."""
        roles = self.kinds.roles
        return self.attrs[roles.index(ON_CPU)] if ON_CPU in roles else None

    @property
    def dump_sampling(self) -> DwarfSampling | None:
        """The on-CPU event's user register and stack copy (``--call-graph dwarf``), if it has one
        the decoder can find (it follows the callchain: no PERF_SAMPLE_RAW or BRANCH_STACK between)."""
        attr = self.on_cpu
        if attr is None or attr.sample_type & USER_DUMP != USER_DUMP or not attr.sample_regs_user:
            return None
        if attr.sample_type & (PERF_SAMPLE_RAW | PERF_SAMPLE_BRANCH_STACK):
            return None
        return DwarfSampling(attr.sample_stack_user, attr.sample_regs_user,
                             user_callchain=not attr.flag("exclude_callchain_user"))

    def layouts(self) -> EventLayouts:
        """Each attr's layout; ids map to them when there is more than one event.

        The on-CPU event's layout is the default.  An event that never samples (perf's
        tracking ``dummy``) only shapes its records' trailers, so it shares the default's
        layout when its trailer is the same: ``perf record -a -g`` then has one layout.
        """
        try:
            return _layouts(self.kinds)
        except ValueError:
            raise PerfDataError(
                f"{self.path}'s events carry their ids at different places in their records, so "
                f"their records cannot be told apart; record the events in separate files."
            ) from None

    def decoder(self) -> RecordDecoder:
        """The live decoder, given every event's layout and kind (and the user dump's layout)."""
        kinds = self.kinds
        decoder = RecordDecoder(self.features.build_ids.get, layouts=self.layouts())
        for event_id, kind in kinds.by_id.items():
            decoder.register(event_id, kind, kinds.waking_pid_offset)
        decoder.sched_switch = kinds.sched_switch
        sampling = self.dump_sampling
        if sampling is not None:
            decoder.dump = UserDumpLayout(sampling.regs_mask)
        return decoder

    def walker(self) -> RecordWalker:
        """A walk over the data section, handing on the kernel records the decoder reads."""
        assert self._map is not None, "use the reader in a with block"
        decoded = DECODED
        if self.kinds.sched_switch is not None:  # one source of switches, or spans would be counted twice
            decoded = DECODED - {rd.PERF_RECORD_SWITCH, rd.PERF_RECORD_SWITCH_CPU_WIDE}
        return RecordWalker(self._map, self.start, self.end, decoded)

    # -- the records ----------------------------------------------------------------------------

    def events(self, decoder: RecordDecoder | None = None, walker: RecordWalker | None = None,
               compiled: CompiledStream | None = None) -> Iterator[list[Event]]:
        """Every decoded event in time order, in batches (one per round that released some).

        ``compiled``: the compiled stream (:meth:`compiled_stream`) scans and orders each round,
        and runs of samples come as :class:`~stax.event_columns.EventColumns`."""
        decoder = decoder if decoder is not None else self.decoder()
        walker = walker if walker is not None else self.walker()
        orderer = TimeOrderer()
        try:
            for chunk in walker.rounds():  # inflates perf record -z's compressed records
                if compiled is not None:
                    ready = compiled.round([chunk])
                else:
                    ready = orderer.round([decoder.decode(chunk)])
                if ready:
                    yield self._span(ready)
            rest = compiled.flush() if compiled is not None else orderer.flush()
        except CompressedDataError as exc:
            raise PerfDataError(
                f"{self.path} holds compressed records (perf record -z) that do not inflate: {exc}; "
                f"copy the file again, or record it again."
            ) from None
        if rest:
            yield self._span(rest)
        if walker.inflater is not None and walker.inflater.pending:
            self.notes.append(
                f"The compressed data of {self.path.name} ends inside a record ({walker.inflater.pending:,} "
                f"bytes of it; perf record was killed); the records before it were imported."
            )
        if walker.stopped_at is not None:
            self.notes.append(
                f"The data of {self.path.name} ends inside a record at byte {walker.stopped_at:,} (the file "
                f"was cut short or perf record was killed); the records before it were imported."
            )

    def compiled_stream(self, decoder: RecordDecoder) -> CompiledStream | None:
        """fast_stream.c doing the rounds (scan, time order, raw stacks), as for ``stax record``, where
        it reads everything: the compiled decoder is there and reads every event's layout and kind,
        and the file has no off-CPU events or user stack copies (the Python stages pair those)."""
        fast = decoder._fast
        layout = decoder.compiled_layout
        if fast is None or layout is None or not decoder.scans_compiled or decoder.dump is not None:
            return None
        if set(self.kinds.roles) - {ON_CPU, SIDE_BAND} or any(a.flag("context_switch") for a in self.attrs):
            return None
        stream = CompiledStream(fast, decoder)
        stream.layout(layout)
        stream.name_from_proc = False  # this host's /proc says nothing of a file's threads
        return stream

    def _span(self, ready: list[Event]) -> list[Event]:
        """Note a sorted batch's oldest and newest times (EventColumns: their runs' times).  Time 0
        is not a time: perf synthesizes the threads and mappings that existed before it started
        (its COMM/MMAP records for them) with no timestamp."""
        times = [t for event in ready for t in _ends(event) if t]
        if times:
            if self.first is None:
                self.first = min(times)
            self.last = max(times) if self.last is None else max(self.last, *times)
        return ready


def _ends(event: object) -> tuple[int, ...]:
    if type(event) is EventColumns:
        columns = (event.sample_time, event.span_start, event.span_end, event.wake_time)
        return tuple(t for column in columns if column for t in (min(column), max(column)))
    return (event.time,)  # type: ignore[attr-defined]


def _layouts(kinds: EventKinds) -> EventLayouts:
    attrs_ = kinds.attrs
    layouts = [SampleLayout(a.sample_type, a.read_format, a.sample_id_all) for a in attrs_]
    default = layouts[kinds.roles.index(ON_CPU)] if ON_CPU in kinds.roles else layouts[0]
    if len(attrs_) == 1:
        return EventLayouts(default)
    for index, role in enumerate(kinds.roles):
        if role == SIDE_BAND and layouts[index].trailer_key == default.trailer_key:
            layouts[index] = default
    return EventLayouts(default, {i: lay for a, lay in zip(attrs_, layouts, strict=True) for i in a.ids})
