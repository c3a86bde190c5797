"""The user-stack stage of a capture (``--call-graph fp``, the hybrid default, and ``dwarf``): unwind in
the stream (fp), or spool now and unwind after (dwarf).

The sampler and the switch-out samples copy user registers and a slice of the user stack
(stax_binfmt.perf_dwarf_callgraph shapes their attrs).  Between time ordering and the sink, the samples
are written to a spool and held back (dwarf; hybrid unwinds them right there); the rest of
the stream goes on.  When capture
stops, the spool is replayed, each sample unwound and delivered to the sink in
batches (dwarf_sample_stream.py explains why resolving them that late is correct).
"""

from __future__ import annotations

from collections.abc import Iterable

from stax.contracts import RecordRequest
from stax.events import Event
from stax.recording import meta_keys as mk
from stax_backend_linux.capture.capture_stage import CaptureStage
from stax_backend_linux.decode.record_decoder import RecordDecoder
from stax_backend_linux.dwarf_callgraph.stack_sample_stream import DwarfSampleStream
from stax_binfmt.perf_dwarf_callgraph import DwarfSampling


class DwarfStage(CaptureStage):
    """Holds samples and off-CPU spans with user dumps back during capture and unwinds them after it."""

    name = "user stack unwinding"

    def __init__(self, stream: DwarfSampleStream) -> None:
        self.stream = stream

    @classmethod
    def for_request(cls, request: RecordRequest, decoder: RecordDecoder) -> DwarfStage | None:
        """The stage for ``--call-graph fp`` or ``dwarf`` (None for ``fp-only``), wired into ``decoder``."""
        stream = DwarfSampleStream.for_request(request, decoder)
        return cls(stream) if stream is not None else None

    @property
    def hybrid(self) -> bool:
        """Hybrid unwinding (``--call-graph fp``): unwound in the stream, which the compiled path can feed."""
        return self.stream.spool is None

    @property
    def sampling(self) -> DwarfSampling:
        """The register and stack dump the sampler must be opened with."""
        return self.stream.sampling

    def feed(self, events: list) -> list:
        return self.stream.process(events)  # hybrid: unwound now; dwarf: spooled, unwound after capture

    def leftovers(self, end_time: int) -> Iterable[list[Event]]:
        return self.stream.finish()

    def metadata(self) -> dict[str, object]:
        """What the DWARF side recorded and how the unwinding went."""
        s = self.stream
        u = s.unwinder
        spool = s.spool
        spooled = spool.count if spool is not None else s.streamed
        stack_bytes = spool.stack_bytes if spool is not None else s.streamed_stack_bytes
        hybrid = {
            mk.BACKEND_HYBRID_STACKS.field: u.hybrid_stacks,
            mk.BACKEND_HYBRID_CHECKED.field: u.checked,
            mk.BACKEND_HYBRID_REPAIRED.field: u.repaired,
            mk.BACKEND_HYBRID_UNREPAIRED.field: u.unrepaired,
        } if u.hybrid else {}
        return hybrid | {
            mk.BACKEND_DWARF_STACK_SIZE.field: s.sampling.stack_size,
            mk.BACKEND_DWARF_REGS_MASK.field: s.sampling.regs_mask,
            mk.BACKEND_DWARF_SAMPLES.field: spooled,
            mk.BACKEND_DWARF_SPOOL_BYTES.field: spool.size if spool is not None else 0,
            mk.BACKEND_DWARF_STACK_BYTES_PER_SAMPLE.field:
                round(stack_bytes / spooled, 1) if spooled else 0,
            mk.BACKEND_DWARF_UNWOUND.field: u.unwound,
            mk.BACKEND_DWARF_TRUNCATED.field: u.truncated,
            mk.BACKEND_DWARF_STOP_REASONS.field: dict(u.stop_reasons),
            mk.BACKEND_DWARF_UNWOUND_EARLY.field: s.early_samples,
            mk.BACKEND_DWARF_UNWIND_CPU_S.field: round(s.unwind_seconds, 3),
        }

    def notes(self) -> list[str]:
        return self.stream.notes()

    def close(self) -> None:
        self.stream.close()
