"""The zstd stream of ``perf record -z``: compressed records in, whole PERF_RECORD_* records out.

perf feeds every copy out of its rings through one zstd compression context and writes
the output as PERF_RECORD_COMPRESSED records (perf's util/zstd.c), so the file holds one
stream of frames whose boundaries need not fall between records.  :class:`Inflater`
keeps one streaming decompressor of the ``zstandard`` package (the reference zstd
library's bindings) across the file, inflates one record's payload at a time (memory
stays at one record's worth) and keeps the tail of a record cut by the end of a payload
until the next payload completes it.
"""

from __future__ import annotations

import struct

import zstandard

from stax.errors import StaxError

_HEADER = struct.Struct("<IHH")


class CompressedDataError(StaxError):
    """A compressed record's zstd data does not inflate."""


class Inflater:
    def __init__(self) -> None:
        self._stream = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)
        self._tail = b""
        self.compressed_bytes = 0
        self.inflated_bytes = 0

    def inflate(self, payload: memoryview | bytes) -> bytes:
        """The whole records this payload completes (b"" when it ends inside the first)."""
        try:
            out = self._stream.decompress(payload)
        except zstandard.ZstdError as exc:
            raise CompressedDataError(f"damaged zstd data ({exc})") from None
        self.compressed_bytes += len(payload)
        self.inflated_bytes += len(out)
        if self._tail:
            out = self._tail + out
        end = 0
        header_from = _HEADER.unpack_from
        while end + 8 <= len(out):
            size = header_from(out, end)[2]
            if size < 8:
                raise CompressedDataError(f"a record of {size} bytes inside the compressed data")
            if end + size > len(out):
                break
            end += size
        self._tail = out[end:]
        return out[:end] if end < len(out) else out

    @property
    def pending(self) -> int:
        """Bytes of a record the stream has not completed (left over at the end: a cut file)."""
        return len(self._tail)
