"""perf's own record types (PERF_RECORD_USER_TYPE_START = 64 and up), named once.

The kernel's record types are in :mod:`stax_backend_linux.decode.record_decoder`;
these are the ones ``perf record`` writes itself (tools/lib/perf/include/perf/event.h,
``enum perf_user_event_type``).  Two are followed by a payload outside the record; the
two compressed ones (``perf record -z``) hold zstd data inside it.
"""

from __future__ import annotations

import struct

PERF_RECORD_USER_TYPE_START = 64
PERF_RECORD_HEADER_ATTR = 64
PERF_RECORD_HEADER_EVENT_TYPE = 65
PERF_RECORD_HEADER_TRACING_DATA = 66
PERF_RECORD_HEADER_BUILD_ID = 67
PERF_RECORD_FINISHED_ROUND = 68
PERF_RECORD_ID_INDEX = 69
PERF_RECORD_AUXTRACE_INFO = 70
PERF_RECORD_AUXTRACE = 71
PERF_RECORD_AUXTRACE_ERROR = 72
PERF_RECORD_THREAD_MAP = 73
PERF_RECORD_CPU_MAP = 74
PERF_RECORD_STAT_CONFIG = 75
PERF_RECORD_STAT = 76
PERF_RECORD_STAT_ROUND = 77
PERF_RECORD_EVENT_UPDATE = 78
PERF_RECORD_TIME_CONV = 79
PERF_RECORD_HEADER_FEATURE = 80
PERF_RECORD_COMPRESSED = 81
PERF_RECORD_FINISHED_INIT = 82
PERF_RECORD_COMPRESSED2 = 83

U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")


def payload_after(rtype: int, data: memoryview | bytes, off: int, size: int) -> int:
    """Bytes that follow the record at ``off`` outside it: AUXTRACE's aux data (u64 size at
    +8), a pipe's HEADER_TRACING_DATA (u32 size at +8, padded to 8); 0 for the others."""
    if rtype == PERF_RECORD_AUXTRACE and size >= 16:
        return U64.unpack_from(data, off + 8)[0]
    if rtype == PERF_RECORD_HEADER_TRACING_DATA and size >= 12:
        return (U32.unpack_from(data, off + 8)[0] + 7) & ~7
    return 0


def compressed_payload(rtype: int, data: memoryview | bytes, off: int, size: int) -> bytes:
    """The zstd bytes of a COMPRESSED record (everything after its header) or a COMPRESSED2 one
    (u64 data size at +8, then the data; the record is padded to 8 bytes).  A copy: no view of
    the file's mmap outlives the import, even in an exception's frames."""
    if rtype == PERF_RECORD_COMPRESSED2 and size >= 16:
        (length,) = U64.unpack_from(data, off + 8)
        return bytes(data[off + 16 : off + 16 + min(length, size - 16)])
    return bytes(data[off + 8 : off + size])
