"""``stax import perf.data``: a Linux perf recording, through the live decoder, into a recording.

The importer the ``stax_importers`` hook offers for files starting with PERFILE2.  The
file is read by :class:`~stax_backend_linux.perf_data.reader.PerfDataReader` (header,
attrs, features, each event's layout and kind, the data section round by round through
the live decoder and time orderer), and its events go through the pieces ``stax
record`` uses after that: the off-CPU
:class:`~stax_backend_linux.off_cpu.stream.OffCpuStream` that pairs switches into
spans and turns sched_waking hits into wakeups, and for ``perf record --call-graph
dwarf`` (samples with perf's copies of user registers and stack) the
:class:`~stax_backend_linux.dwarf_callgraph.stack_sample_stream.DwarfSampleStream` of
``stax record --call-graph dwarf``, which spools them and unwinds each with stax's CFI
unwinder at the end.  Symbols, wakeup links and blocked reasons are then the
recording builder's passes, as after ``stax record``.

What becomes what: samples of the first sampling event -> on-CPU samples (other
sampling events are counted and skipped: one profile holds one event);
sched:sched_switch samples or PERF_RECORD_SWITCH(_CPU_WIDE) (``--switch-events``) ->
off-CPU spans (the tracepoint wins when both are there); sched:sched_waking -> wakeups;
MMAP/MMAP2/COMM/FORK/EXIT -> images and threads, with HEADER_BUILD_ID's build ids.
"""

from __future__ import annotations

import platform
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from stax.contracts import CaptureSummary, EventSink
from stax.events import Event
from stax.recording import meta_keys as mk
from stax_backend_linux.decode.record_decoder import RecordDecoder
from stax_backend_linux.off_cpu.stream import OffCpuStream
from stax_backend_linux.off_cpu.switch_tracker import SwitchTracker
from stax_backend_linux.off_cpu.wakeup_attribution import WakeupAttribution
from stax_backend_linux.perf_data.event_kinds import EventKinds
from stax_backend_linux.perf_data.features import PerfFeatures
from stax_backend_linux.perf_data.header import describe_magic
from stax_backend_linux.perf_data.reader import PerfDataReader
from stax_backend_linux.perf_data.record_walker import RecordWalker
from stax_binfmt.kallsyms import kernel_build_id

if TYPE_CHECKING:  # the DWARF stages are imported when a file needs them (~40 ms of start-up)
    from stax_backend_linux.dwarf_callgraph.stack_sample_stream import DwarfSampleStream

SINK_BATCH = 20_000
"""Events handed to the sink at once."""
KERNEL_IMAGE = "[kernel.kallsyms]"
"""perf's name for the kernel in HEADER_BUILD_ID."""
UNWOUND_ARCH = "x86_64"
"""The one machine stax's DWARF unwinder reads registers of."""


class PerfDataImporter:
    """Linux ``perf record`` files (perf.data, PERFILE2)."""

    name = "perf-data"
    description = "Linux perf.data files (PERFILE2) as written by 'perf record'"

    def recognizes(self, head: bytes) -> bool:
        return describe_magic(head) is not None

    def import_file(self, path: Path, sink: EventSink) -> CaptureSummary:
        with PerfDataReader(path) as reader:
            return self._decode(reader, sink)

    def _decode(self, reader: PerfDataReader, sink: EventSink) -> CaptureSummary:
        kinds = reader.kinds
        decoder = reader.decoder()
        walker = reader.walker()
        threads: dict[int, int] = {}
        wakeups = WakeupAttribution(threads, target_only=False) if kinds.waking else None
        # name_from_proc off: this host's /proc says nothing of the threads in a file recorded earlier
        stream = OffCpuStream(SwitchTracker(keep_kernel_ips=True, use_wchan=False), wakeups, threads,
                              name_from_proc=False)
        dwarf = _dwarf_stream(reader, decoder)
        compiled = reader.compiled_stream(decoder) if dwarf is None else None
        if compiled is not None:  # a plain profile: fast_stream.c does each round, as in stax record
            for batch in reader.events(decoder, walker, compiled):
                _deliver(batch, sink)
            return _summary(reader, decoder, walker, None, list(reader.notes), "compiled")
        try:
            for batch in reader.events(decoder, walker):
                _deliver(_unwound(stream.process(batch), dwarf), sink)
            if reader.last is not None:
                _deliver(_unwound(stream.finish(reader.last), dwarf), sink)
            if dwarf is not None:  # perf's user stack copies, unwound as stax record --call-graph dwarf does
                for batch in dwarf.finish():
                    _deliver(batch, sink)
        finally:
            if dwarf is not None:
                dwarf.close()
        notes = list(reader.notes)
        if stream.tracker.unpaired_outs:
            notes.append(
                f"{stream.tracker.unpaired_outs:,} switch-outs have no switch-in in the file, so those "
                f"spans are missing (a per-task 'perf record -e sched:sched_switch' sees a thread come "
                f"back only after another recorded thread); record with -a or --switch-events."
            )
        if dwarf is not None:
            notes += dwarf.notes()
        return _summary(reader, decoder, walker, dwarf, notes,
                        "compiled scan" if decoder.scans_compiled else "python")


def _dwarf_stream(reader: PerfDataReader, decoder: RecordDecoder) -> DwarfSampleStream | None:
    """The DWARF unwinding of ``stax record --call-graph dwarf``, for a file whose samples copy user
    registers and stack; None without copies, or (with a note) when stax cannot unwind them."""
    sampling = reader.dump_sampling
    if sampling is None:
        return None
    arch = str(reader.features.machine.get("arch", platform.machine()))
    if arch != UNWOUND_ARCH or platform.machine() != UNWOUND_ARCH:
        reader.notes.append(
            f"The samples copy user stacks (--call-graph dwarf) of an {arch} machine, which stax "
            f"unwinds only on and for {UNWOUND_ARCH}: each sample keeps its ip and kernel callchain."
        )
        return None
    from stax_backend_linux.dwarf_callgraph.stack_sample_stream import DwarfSampleStream

    stream = DwarfSampleStream(sampling, max_stack=decoder.max_stack)
    decoder.dump = stream.layout
    return stream


def _unwound(events: list[Event], dwarf: DwarfSampleStream | None) -> list[Event]:
    return events if dwarf is None else dwarf.process(events)


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


def _summary(
    reader: PerfDataReader,
    decoder: RecordDecoder,
    walker: RecordWalker,
    dwarf: DwarfSampleStream | None,
    notes: list[str],
    decoded_by: str,
) -> CaptureSummary:
    kinds: EventKinds = reader.kinds
    features: PerfFeatures = reader.features
    pipe = reader.header.pipe
    first, last = reader.first or 0, reader.last or 0
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
            mk.IMPORT_DECODER.field: decoded_by,
            mk.IMPORT_RECORDS.field: walker.records,
            mk.IMPORT_DURATION_S.field: round(max(0, last - first) / 1e9, 6),
            mk.IMPORT_SKIPPED.field: dict(skipped),
            mk.IMPORT_EVENTS.field: kinds.described(),
            mk.IMPORT_CMDLINE.field: features.cmdline,
            mk.IMPORT_BUILD_IDS.field: len(features.build_ids),
            **{mk.IMPORT_MACHINE.field + k: v for k, v in features.machine.items()},
            **_unwind_metadata(dwarf),
        },
    )


def _unwind_metadata(dwarf: DwarfSampleStream | None) -> dict[str, object]:
    """``stax record --call-graph dwarf``'s figures of the unwinding, as ``import.unwind.*``."""
    if dwarf is None:
        return {}
    from stax_backend_linux.dwarf_callgraph.dwarf_stage import DwarfStage

    return {mk.IMPORT_UNWIND.field + k: v for k, v in DwarfStage(dwarf).metadata().items()}
