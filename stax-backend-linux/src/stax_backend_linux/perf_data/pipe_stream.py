"""perf.data written to a pipe (``perf record -o -``): the header arrives as records.

With no place to seek back to, perf streams what a file keeps in its header
(perf.data-file-format.txt, "Pipe-mode data"): PERF_RECORD_HEADER_ATTR (64: the attr,
``attr.size`` bytes, then the event's u64 ids), HEADER_FEATURE (80: u64 feature id,
then the same bytes as that feature's section), HEADER_TRACING_DATA (66: u32 size,
and that many bytes, padded to 8, follow the record) and HEADER_BUILD_ID (67: one
build id record each, written at the end).  :func:`read_pipe_stream` collects them
all in one pass over the record headers, before the records are decoded, so events
and build ids are known when the first sample or mapping is.
"""

from __future__ import annotations

import struct
from pathlib import Path

from stax_backend_linux.decode import record_decoder as rd
from stax_backend_linux.perf_data.features import (
    HEADER_TRACING_DATA,
    PerfFeatures,
    read_build_id_record,
    read_feature,
)
from stax_backend_linux.perf_data.header import PerfAttr, PerfDataError, parse_attr
from stax_backend_linux.perf_data.perf_records import (
    PERF_RECORD_HEADER_ATTR,
    PERF_RECORD_HEADER_BUILD_ID,
    PERF_RECORD_HEADER_FEATURE,
    PERF_RECORD_HEADER_TRACING_DATA,
    U32,
    U64,
    payload_after,
)

HEADER = rd.HEADER


def read_pipe_stream(
    data: memoryview, start: int, end: int, path: Path
) -> tuple[list[PerfAttr], PerfFeatures]:
    """The attrs and features a pipe-mode stream carries as records."""
    attrs_: list[PerfAttr] = []
    found = PerfFeatures()
    header_from = HEADER.unpack_from
    off = start
    while off + 8 <= end:
        rtype, _misc, size = header_from(data, off)
        if size < 8 or off + size > end:
            break
        if rtype == PERF_RECORD_HEADER_ATTR and size >= 16:
            (attr_size,) = U32.unpack_from(data, off + 12)
            ids_at = off + 8 + attr_size
            if attr_size < 48 or ids_at > off + size:
                raise PerfDataError(
                    f"{path} has a damaged event description (HEADER_ATTR at byte {off:,}); record it again."
                )
            ids = struct.unpack_from(f"<{(off + size - ids_at) // 8}Q", data, ids_at)
            attrs_.append(parse_attr(data, off + 8, attr_size, ids))
        elif rtype == PERF_RECORD_HEADER_FEATURE and size >= 16:
            (feature,) = U64.unpack_from(data, off + 8)
            read_feature(feature, bytes(data[off + 16 : off + size]), found, path)
        elif rtype == PERF_RECORD_HEADER_BUILD_ID:
            read_build_id_record(bytes(data[off : off + size]), found)
        elif rtype == PERF_RECORD_HEADER_TRACING_DATA and size >= 12:
            payload = payload_after(rtype, data, off, size)
            read_feature(HEADER_TRACING_DATA, bytes(data[off + size : off + size + payload]), found, path)
            size += payload
        off += size
    if not attrs_:
        raise PerfDataError(
            f"{path} was written to a pipe (perf record -o -) but holds no event description; "
            f"it is empty or cut short: record it again."
        )
    return attrs_, found
