"""``stax import FILE.ktrace``: a trace recorded on a Mac, through the live decoder, into a recording.

The importer offered by the ``stax_importers`` hook: it recognises version 3 ktrace
files (and older kdebug traces, to refuse them by name) by their magic number,
reads the chunks (:mod:`.ktrace_file`), finds the sample weight
(:mod:`.sample_period`) and feeds every events chunk through the same
:class:`~stax_backend_macos.kdebug_decoder.KdebugDecoder` the live capture uses.
"""

from __future__ import annotations

from pathlib import Path

from stax.contracts import CaptureSummary, EventSink
from stax_backend_macos.kdebug_decoder import KdebugDecoder, Timebase
from stax_backend_macos.ktrace_file import describe_magic, open_ktrace
from stax_backend_macos.sample_period import find_period

SINK_BATCH = 20_000
"""Records decoded per batch handed to the sink."""
MACHINE_KEYS = ("model", "Model", "hw.model", "machine", "osversion", "OSVersion", "kern.osversion",
                "ProductVersion", "cpu_type", "ncpus")


class KtraceImporter:
    """Apple ktrace / artrace files (version 3)."""

    name = "ktrace"
    description = "Apple ktrace/artrace trace files, version 3 (kdebug + kperf), as recorded on a Mac"

    def recognizes(self, head: bytes) -> bool:
        return describe_magic(head) is not None

    def import_file(self, path: Path, sink: EventSink) -> CaptureSummary:
        trace = open_ktrace(path)
        try:
            return self._decode(trace, sink)
        finally:
            trace.close()

    def _decode(self, trace, sink: EventSink) -> CaptureSummary:  # noqa: ANN001
        header = trace.header
        timebase = Timebase(header.timebase_numer, header.timebase_denom)
        period_ns, period_source = find_period(
            (r for batch in trace.chunks_of_records() for r in batch), timebase)
        decoder = KdebugDecoder(timebase, period_ns)
        first = None
        for batch in trace.chunks_of_records():
            if first is None and batch:
                first = batch[0].timestamp
                sink.consume(decoder.seed_threads(trace.thread_map, first))
            for start in range(0, len(batch), SINK_BATCH):
                events = decoder.feed(batch[start: start + SINK_BATCH])
                if events:
                    sink.consume(events)
        sink.consume(decoder.finish())
        notes = [f"{note[0].upper()}{note[1:]}." for note in trace.notes]
        notes.append(f"Each sample counts {period_ns / 1e6:g} ms of CPU time ({period_source}).")
        skipped = {**trace.skipped, **decoder.skipped()}
        if skipped:
            notes.append("Skipped " + ", ".join(f"{count:,} {what}" for what, count in skipped.items()) + ".")
        if decoder.lost_events:
            notes.append(f"The kernel's trace buffer overflowed {decoder.lost_events:,} times while"
                         f" recording:"
                         f" events were lost there; record with a larger buffer (ktrace -b).")
        duration = timebase.ns(decoder.last_time - first) if first is not None else 0
        machine = {k: trace.machine[k] for k in MACHINE_KEYS if k in trace.machine
                   and isinstance(trace.machine[k], str | int | float)}
        return CaptureSummary(
            samples=decoder.sample_count,
            lost_records=decoder.lost_events,
            notes=notes,
            metadata={
                "format": f"ktrace v3 (magic {header.magic:#x})",
                "os": "darwin",
                "timebase": f"{header.timebase_numer}/{header.timebase_denom}",
                "sample_period_ns": period_ns,
                "sample_period_source": period_source,
                "records": decoder.records,
                "duration_s": round(duration / 1e9, 6),
                "walltime_start": header.walltime_s + header.walltime_us / 1e6 if header.walltime_s else None,
                "dyld_shared_caches": {pid: {"uuid": u, "base": hex(b)}
                                       for pid, (u, b) in decoder.images.shared_caches.items()},
                "skipped": skipped,
                **{f"machine.{k}": v for k, v in machine.items()},
            },
        )
