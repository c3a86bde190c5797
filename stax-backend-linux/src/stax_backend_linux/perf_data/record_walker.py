"""The data section of a perf.data file, round by round.

The data section is a sequence of ``perf_event_header``-framed records: the kernel's
(types below 64, PERF_RECORD_USER_TYPE_START) as perf copied them out of its rings,
and perf's own (64 and up).  perf empties all its rings, then writes
PERF_RECORD_FINISHED_ROUND (68): records are in time order only within each ring, so
an importer sorts each round, holding back what a later round may still precede
(:class:`~stax_backend_linux.decode.time_order.TimeOrderer`, as ``stax record`` does
with its own rings).  PERF_RECORD_AUXTRACE (71) and a pipe's HEADER_TRACING_DATA (66)
are followed by a payload, which is skipped with them.

``perf record -z`` writes what it copied out of its rings as PERF_RECORD_COMPRESSED (81:
the header, then zstd data; COMPRESSED2, 83: the header, u64 data size, the data, padded
to 8): one zstd stream across the file, in which a record may run from one compressed
record into the next (perf compresses each ring copy as it comes, and a copy of a
wrapped ring is two pieces).  Each compressed record is inflated as it is met, through
one streaming ``zstandard`` decompressor (:class:`Inflater`), and the whole records that
came out join the round like uncompressed ones; a record's tail waits for the next.

:meth:`RecordWalker.rounds` yields, per round, the bytes of the kernel records the
decoder reads; every other record is counted by name in :attr:`RecordWalker.skipped`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from stax_backend_linux.counters.decoder import PERF_RECORD_READ
from stax_backend_linux.decode import record_decoder as rd
from stax_backend_linux.perf_data import perf_records as pr
from stax_backend_linux.perf_data.inflater import Inflater

HEADER = rd.HEADER

DECODED = frozenset(
    {
        rd.PERF_RECORD_MMAP,
        rd.PERF_RECORD_LOST,
        rd.PERF_RECORD_COMM,
        rd.PERF_RECORD_EXIT,
        rd.PERF_RECORD_THROTTLE,
        rd.PERF_RECORD_UNTHROTTLE,
        rd.PERF_RECORD_FORK,
        rd.PERF_RECORD_SAMPLE,
        rd.PERF_RECORD_MMAP2,
        rd.PERF_RECORD_LOST_SAMPLES,
        rd.PERF_RECORD_SWITCH,
        rd.PERF_RECORD_SWITCH_CPU_WIDE,
    }
)
"""Kernel record types :class:`RecordDecoder` turns into events."""

# perf's own records that carry nothing a recording keeps (the attrs and features come
# from the header, or in a pipe from the HEADER_* records pipe_stream.py reads; ids from
# the attrs): skipped without a note.
SILENT = frozenset(
    {
        pr.PERF_RECORD_HEADER_ATTR,
        pr.PERF_RECORD_HEADER_TRACING_DATA,
        pr.PERF_RECORD_HEADER_BUILD_ID,
        pr.PERF_RECORD_FINISHED_ROUND,
        pr.PERF_RECORD_ID_INDEX,
        pr.PERF_RECORD_THREAD_MAP,
        pr.PERF_RECORD_CPU_MAP,
        pr.PERF_RECORD_EVENT_UPDATE,
        pr.PERF_RECORD_TIME_CONV,
        pr.PERF_RECORD_HEADER_FEATURE,
        pr.PERF_RECORD_FINISHED_INIT,
    }
)
NAMES = {
    PERF_RECORD_READ: "READ",
    11: "AUX",
    12: "ITRACE_START",
    16: "NAMESPACES",
    17: "KSYMBOL",
    18: "BPF_EVENT",
    19: "CGROUP",
    20: "TEXT_POKE",
    21: "AUX_OUTPUT_HW_ID",
    **{
        getattr(pr, n): n.removeprefix("PERF_RECORD_")
        for n in dir(pr)
        if n.startswith("PERF_RECORD_") and n != "PERF_RECORD_USER_TYPE_START"
    },
}


def record_name(rtype: int) -> str:
    return NAMES.get(rtype, f"unknown type {rtype}")


class RecordWalker:
    """Walks ``data[start:end]`` (a buffer: the file's mmap); ``decoded`` are the kernel record
    types to hand on (the others are counted)."""

    def __init__(
        self, data: memoryview | bytes, start: int, end: int, decoded: frozenset[int] = DECODED
    ) -> None:
        self.data = data
        self.decoded = decoded
        self.start = start
        self.end = end
        self.records = 0
        self.rounds_seen = 0
        self.skipped: Counter[str] = Counter()
        """Record name -> how many were skipped (``unknown type N`` for types perf.data's
        documentation does not name)."""
        self.stopped_at: int | None = None
        """Where a record ran past the end of the data or had an impossible size, if one did."""
        self.inflater: Inflater | None = None
        """The zstd stream of ``perf record -z``'s compressed records, once one was met."""

    def rounds(self) -> Iterator[bytes]:
        """The decodable records of each round, as one bytes object per round."""
        data, end = self.data, self.end
        header_from = HEADER.unpack_from
        decoded, silent, skipped = self.decoded, SILENT, self.skipped
        off = self.start
        run = off  # start of the current run of decodable records
        pieces: list[bytes] = []
        records = 0
        skip, release = _compiled_skip(data, decoded)
        try:
            while off + 8 <= end:
                if skip is not None:  # the runs of decoded records, in fast_decode.c
                    off = skip(off, end)
                    if off + 8 > end:
                        break
                rtype, _misc, size = header_from(data, off)
                if size < 8 or off + size > end:
                    self.stopped_at = off
                    break
                records += 1
                if rtype in decoded:
                    off += size
                    continue
                if off > run:
                    pieces.append(bytes(data[run:off]))
                if rtype == pr.PERF_RECORD_COMPRESSED or rtype == pr.PERF_RECORD_COMPRESSED2:
                    if self.inflater is None:
                        self.inflater = Inflater()
                    inflated = self.inflater.inflate(pr.compressed_payload(rtype, data, off, size))
                    if inflated:
                        pieces.append(self._decodable(inflated))
                    off += size
                    run = off
                    continue
                size += pr.payload_after(rtype, data, off, size)
                if rtype == pr.PERF_RECORD_FINISHED_ROUND:
                    self.rounds_seen += 1
                    if pieces:
                        yield b"".join(pieces)
                        pieces = []
                elif rtype not in silent:
                    skipped[record_name(rtype)] += 1
                off += size
                run = off
        finally:
            if release is not None:
                release()
        records += skip.records if skip is not None else 0  # type: ignore[attr-defined]
        if self.stopped_at is None and off < end:
            self.stopped_at = off
        if min(off, end) > run:
            pieces.append(bytes(data[run : min(off, end)]))
        self.records += records
        if pieces:
            yield b"".join(pieces)

    def _decodable(self, records: bytes) -> bytes:
        """The records of an inflated piece (whole ones: :class:`Inflater` keeps tails) the decoder
        reads; the others are counted.  perf compresses only its rings' copies, so a piece holds
        kernel records, which are usually all decoded."""
        header_from = HEADER.unpack_from
        decoded, skipped = self.decoded, self.skipped
        keep: list[bytes] = []
        off = run = 0
        end = len(records)
        while off + 8 <= end:
            rtype, _misc, size = header_from(records, off)
            self.records += 1
            if rtype not in decoded:
                if off > run:
                    keep.append(records[run:off])
                if rtype not in SILENT:
                    skipped[record_name(rtype)] += 1
                run = off + size
            off += size
        if run == 0:
            return records
        keep.append(records[run:])
        return b"".join(keep)


class _Skip:
    """fast_decode.c's stax_skip_decoded over one buffer; ``records`` counts what it skipped."""

    def __init__(self, lib: object, source: object, table: object, count: object) -> None:
        self.lib, self.source, self.table, self._count = lib, source, table, count

    def __call__(self, off: int, end: int) -> int:
        return self.lib.stax_skip_decoded(self.source, off, end, self.table, self._count)  # type: ignore[attr-defined]

    @property
    def records(self) -> int:
        return int(self._count[0])  # type: ignore[index]


def _compiled_skip(data: object, decoded: frozenset[int]) -> tuple[_Skip | None, object]:
    """The compiled walk over ``data`` and what releases its hold on the buffer, or (None, None)."""
    from stax_backend_linux.decode import fast_decoder

    fast = fast_decoder.load()
    if fast is None:
        return None, None
    ffi = fast.ffi
    source = ffi.from_buffer(data)
    table = ffi.new("uint8_t[64]", [1 if t in decoded else 0 for t in range(64)])
    return _Skip(fast.lib, source, table, ffi.new("uint64_t *")), lambda: ffi.release(source)
