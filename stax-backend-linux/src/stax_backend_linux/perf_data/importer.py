"""``stax import perf.data``: a Linux perf recording, through the live decoder, into a recording.

The importer the ``stax_importers`` hook offers for files starting with PERFILE2.  It
reads the header, the attrs and the feature sections (:mod:`.header`, :mod:`.features`),
gives every event its own sample layout and kind, walks the data section round by
round (:mod:`.record_walker`) and sends each round through the pieces ``stax record``
uses: :class:`~stax_backend_linux.decode.record_decoder.RecordDecoder`, the
:class:`~stax_backend_linux.decode.time_order.TimeOrderer`, and the off-CPU
:class:`~stax_backend_linux.off_cpu.stream.OffCpuStream` that pairs switches into
spans and turns sched_waking hits into wakeups.  Symbols, wakeup links and blocked
reasons are then the recording builder's passes, as after ``stax record``.

What becomes what: samples of the first sampling event -> on-CPU samples (other
sampling events are counted and skipped: one profile holds one event);
sched:sched_switch samples or PERF_RECORD_SWITCH(_CPU_WIDE) (``--switch-events``) ->
off-CPU spans (the tracepoint wins when both are there); sched:sched_waking -> wakeups;
MMAP/MMAP2/COMM/FORK/EXIT -> images and threads, with HEADER_BUILD_ID's build ids.
"""

from __future__ import annotations

import mmap
from collections import Counter
from pathlib import Path

from stax.contracts import CaptureSummary, EventSink
from stax.events import Event
from stax.recording import meta_keys as mk
from stax_backend_linux.decode import record_decoder as rd
from stax_backend_linux.decode.record_decoder import RecordDecoder
from stax_backend_linux.decode.sample_layout import EventLayouts, SampleLayout
from stax_backend_linux.decode.time_order import TimeOrderer
from stax_backend_linux.off_cpu.stream import OffCpuStream
from stax_backend_linux.off_cpu.switch_tracker import SwitchTracker
from stax_backend_linux.off_cpu.wakeup_attribution import WakeupAttribution
from stax_backend_linux.perf_data.event_kinds import ON_CPU, SIDE_BAND, EventKinds, classify_events
from stax_backend_linux.perf_data.features import PerfFeatures, read_features
from stax_backend_linux.perf_data.header import PerfDataError, describe_magic, read_attrs, read_header
from stax_backend_linux.perf_data.inflater import CompressedDataError
from stax_backend_linux.perf_data.pipe_stream import read_pipe_stream
from stax_backend_linux.perf_data.record_walker import DECODED, RecordWalker
from stax_binfmt.kallsyms import kernel_build_id

SINK_BATCH = 20_000
"""Events handed to the sink at once."""
KERNEL_IMAGE = "[kernel.kallsyms]"
"""perf's name for the kernel in HEADER_BUILD_ID."""


class PerfDataImporter:
    """Linux ``perf record`` files (perf.data, PERFILE2)."""

    name = "perf-data"
    description = "Linux perf.data files (PERFILE2) as written by 'perf record'"

    def recognizes(self, head: bytes) -> bool:
        return describe_magic(head) is not None

    def import_file(self, path: Path, sink: EventSink) -> CaptureSummary:
        size = path.stat().st_size
        with path.open("rb") as f:
            header = read_header(f, path, size)
            data = header.data
            notes: list[str] = []
            end = data.end
            if data.size == 0 and size > data.offset and not header.pipe:  # perf killed before the header
                end = size
                notes.append(
                    f"The header of {path.name} gives no data size (perf record did not finish), "
                    f"so records were read up to the end of the file."
                )
            if end <= data.offset:
                raise PerfDataError(
                    f"{path} holds no records (perf record wrote only its header); record it again."
                )
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                view = memoryview(mapped)
                try:
                    if header.pipe:
                        attrs_, features = read_pipe_stream(view, data.offset, end, path)
                    else:
                        attrs_ = read_attrs(f, path, header, size)
                        features = read_features(f, path, header, size)
                    kinds = classify_events(attrs_, features)
                    return self._decode(
                        path, view, data.offset, end, features, kinds, notes, sink, header.pipe
                    )
                finally:
                    view.release()

    def _decode(
        self,
        path: Path,
        data: memoryview,
        start: int,
        end: int,
        features: PerfFeatures,
        kinds: EventKinds,
        notes: list[str],
        sink: EventSink,
        pipe: bool,
    ) -> CaptureSummary:
        try:
            layouts = _layouts(kinds)
        except ValueError:
            raise PerfDataError(
                f"{path}'s events carry their ids at different places in their records, so "
                f"their records cannot be told apart; record the events in separate files."
            ) from None
        decoder = RecordDecoder(features.build_ids.get, layouts=layouts)
        for event_id, kind in kinds.by_id.items():
            decoder.register(event_id, kind, kinds.waking_pid_offset)
        decoder.sched_switch = kinds.sched_switch
        decoded = DECODED
        if kinds.sched_switch is not None:  # one source of switches, or spans would be counted twice
            decoded = DECODED - {rd.PERF_RECORD_SWITCH, rd.PERF_RECORD_SWITCH_CPU_WIDE}
        walker = RecordWalker(data, start, end, decoded)
        orderer = TimeOrderer()
        threads: dict[int, int] = {}
        wakeups = WakeupAttribution(threads, target_only=False) if kinds.waking else None
        # name_from_proc off: this host's /proc says nothing of the threads in a file recorded earlier
        stream = OffCpuStream(SwitchTracker(keep_kernel_ips=True, use_wchan=False), wakeups, threads,
                              name_from_proc=False)
        first = last = None
        try:
            for chunk in walker.rounds():  # inflates perf record -z's compressed records
                ready = orderer.round([decoder.decode(chunk)])
                if ready:  # sorted: its ends are the oldest and newest times
                    first = ready[0].time if first is None else first
                    last = ready[-1].time
                    _deliver(stream.process(ready), sink)
            rest = orderer.flush()
        except CompressedDataError as exc:
            raise PerfDataError(
                f"{path} holds compressed records (perf record -z) that do not inflate: {exc}; "
                f"copy the file again, or record it again."
            ) from None
        if walker.inflater is not None and walker.inflater.pending:
            notes.append(
                f"The compressed data of {path.name} ends inside a record ({walker.inflater.pending:,} "
                f"bytes of it; perf record was killed); the records before it were imported."
            )
        if rest:
            first = rest[0].time if first is None else first
            last = rest[-1].time
            _deliver(stream.process(rest), sink)
        if last is not None:
            _deliver(stream.finish(last), sink)
        if stream.tracker.unpaired_outs:
            notes.append(
                f"{stream.tracker.unpaired_outs:,} switch-outs have no switch-in in the file, so those "
                f"spans are missing (a per-task 'perf record -e sched:sched_switch' sees a thread come "
                f"back only after another recorded thread); record with -a or --switch-events."
            )
        if walker.stopped_at is not None:
            notes.append(
                f"The data of {path.name} ends inside a record at byte {walker.stopped_at:,} (the file "
                f"was cut short or perf record was killed); the records before it were imported."
            )
        return _summary(pipe, features, kinds, decoder, walker, first or 0, last or 0, notes)


def _deliver(events: list[Event], sink: EventSink) -> None:
    for at in range(0, len(events), SINK_BATCH):
        sink.consume(events[at : at + SINK_BATCH])


def _kernel_notes(features: PerfFeatures) -> list[str]:
    """Kernel frames are named from this host's /proc/kallsyms: say so when the file's kernel differs."""
    recorded = features.build_ids.get(KERNEL_IMAGE)
    running = kernel_build_id()
    if recorded is None or running is None or recorded == running:
        return []
    return [
        f"The file was recorded on another kernel (build id {recorded.hex()}, this host runs "
        f"{running.hex()}): kernel frames are named from this host's /proc/kallsyms and may be wrong; "
        f"import it on the machine that recorded it for kernel names."
    ]


def _layouts(kinds: EventKinds) -> EventLayouts:
    """Each attr's layout; ids map to them when there is more than one event.

    The on-CPU event's layout is the default.  An event that never samples (perf's
    tracking ``dummy``) only shapes its records' trailers, so it shares the default's
    layout when its trailer is the same: ``perf record -a -g`` then has one layout,
    ``stax record``'s own, which the compiled scan reads.
    """
    attrs_ = kinds.attrs
    layouts = [SampleLayout(a.sample_type, a.read_format, a.sample_id_all) for a in attrs_]
    default = layouts[kinds.roles.index(ON_CPU)] if ON_CPU in kinds.roles else layouts[0]
    if len(attrs_) == 1:
        return EventLayouts(default)
    for index, role in enumerate(kinds.roles):
        if role == SIDE_BAND and layouts[index].trailer_key == default.trailer_key:
            layouts[index] = default
    return EventLayouts(default, {i: lay for a, lay in zip(attrs_, layouts, strict=True) for i in a.ids})


def _summary(
    pipe: bool,
    features: PerfFeatures,
    kinds: EventKinds,
    decoder: RecordDecoder,
    walker: RecordWalker,
    first: int,
    last: int,
    notes: list[str],
) -> CaptureSummary:
    skipped: Counter[str] = Counter(walker.skipped)
    for name, count in kinds.skipped_samples(decoder.skipped_samples).items():
        skipped[name] += count
    if decoder.unknown_records:
        skipped["records the decoder does not know"] += decoder.unknown_records
    notes = [
        *notes,
        *(f"{n[0].upper()}{n[1:]}." for n in features.notes),
        *kinds.notes,
        *_kernel_notes(features),
    ]
    if skipped:
        notes.append(
            "Skipped "
            + ", ".join(f"{count:,} {what}" for what, count in skipped.most_common())
            + " (stax does not use them)."
        )
    lost = decoder.lost_records + decoder.lost_samples
    if lost:
        notes.append(
            f"perf lost {lost:,} records or samples while recording (its buffers overflowed); "
            f"the profile misses them."
        )
    return CaptureSummary(
        samples=decoder.samples,
        lost_records=lost,
        notes=notes,
        metadata={
            mk.IMPORT_FORMAT.field: f"perf.data (PERFILE2, little-endian{', pipe' if pipe else ''}"
            f"{', zstd-compressed' if walker.inflater is not None else ''})",
            mk.IMPORT_OS.field: "linux",
            mk.IMPORT_RECORDS.field: walker.records,
            mk.IMPORT_DURATION_S.field: round(max(0, last - first) / 1e9, 6),
            mk.IMPORT_SKIPPED.field: dict(skipped),
            mk.IMPORT_EVENTS.field: kinds.described(),
            mk.IMPORT_CMDLINE.field: features.cmdline,
            mk.IMPORT_BUILD_IDS.field: len(features.build_ids),
            **{mk.IMPORT_MACHINE.field + k: v for k, v in features.machine.items()},
        },
    )
