"""Reading Apple's version 3 trace files (``.ktrace``, ``.artrace``): header, chunks, events.

Layout (ktrace(5); xnu bsd/kern/kdebug.c, which writes the same format): every
multi-byte field is little-endian.  The file starts with a 56-byte header:

    u32 magic (0x55aa0300 per ktrace(5); xnu's own writer uses 0x00001000,
        RAW_VERSION3), u16 major, u16 minor, u64 header size (bytes after the first
        16, the header's own fields and its sub-chunks), u32 timebase numer,
        u32 timebase denom, u64 start timestamp, u64 walltime seconds,
        u32 walltime microseconds, u32 minutes west of GMT, u32 DST, u32 flags (bit 0: 64-bit)

then chunks, each ``u32 tag, u16 major, u16 minor, u64 size`` and ``size`` bytes of
data, chunk headers aligned to 8 bytes.  Unknown chunks are skipped (and counted);
header chunks precede body chunks.  The chunks read here:

* 0x1d00 thread map: ``kd_threadmap`` entries (u64 tid, i32 pid, char command[20]);
* 0x1e00 events: an 8-byte "future events" timestamp, then ``kd_buf`` records.  xnu
  up to 8020 counts the timestamp in the chunk size (size % 64 == 8); xnu 10002 and
  later write a 24-byte header whose size counts the records only (size % 64 == 0);
* 0x1c00 CPU map and 0x2000 null (padding) chunks, known and not needed;
* 0x8c00 machine information, a property list (its ``model``-like keys end up in the
  recording's metadata).

A chunk cut short by the end of the file keeps its whole records (nothing recorded is
lost) and the cut is noted; a damaged header is one sentence.
"""

from __future__ import annotations

import mmap
import os
import plistlib
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from stax.errors import StaxError
from stax_backend_macos.kd_buf import KdRecord, ThreadMapEntry, records, thread_map
from stax_backend_macos.kdebug_codes import KD_BUF_SIZE

MAGICS_V3 = (0x55AA0300, 0x00001000)
OLD_MAGICS = {0x55AA0000: "version 0", 0x55AA0101: "version 1", 0x55AA0200: "version 2"}
HEADER = struct.Struct("<IHHQIIQQIIII")
CHUNK = struct.Struct("<IHHQ")
HEADER_FIELDS_AFTER_CHUNK = HEADER.size - CHUNK.size
"""40: the header's own fields after its first 16 bytes; sub-chunks follow them."""
FLAG_64BIT = 1

TAG_CPU_MAP = 0x1C00
TAG_THREAD_MAP = 0x1D00
TAG_EVENTS = 0x1E00
TAG_NULL = 0x2000
TAG_CONFIG = 0x1B00
TAG_MACHINE_INFO = 0x8C00
KNOWN_UNUSED = {TAG_CPU_MAP, TAG_NULL, TAG_CONFIG}
READ_VERSIONS = (0, 1)
"""Major versions of the thread-map and events chunks this reader understands."""
FUTURE_TIMESTAMP = 8
BATCH_RECORDS = 262_144
"""Records handed on per batch (16 MiB of kd_bufs)."""


class TraceFileError(StaxError):
    """A trace file given to ``stax import`` cannot be read; one sentence says why and what to do."""


@attrs.frozen(slots=True)
class KtraceHeader:
    magic: int
    major: int
    minor: int
    timebase_numer: int
    timebase_denom: int
    start: int
    walltime_s: int
    walltime_us: int
    flags: int


@attrs.define(slots=True)
class KtraceFile:
    """A parsed trace: header, thread map, where the event records are, and what was skipped."""

    path: Path
    header: KtraceHeader
    thread_map: list[ThreadMapEntry] = attrs.field(factory=list)
    machine: dict[str, Any] = attrs.field(factory=dict)
    event_spans: list[tuple[int, int]] = attrs.field(factory=list)
    """(offset, length) of each run of records, length a multiple of 64."""
    skipped: dict[str, int] = attrs.field(factory=dict)
    notes: list[str] = attrs.field(factory=list)
    _map: mmap.mmap | None = None

    @property
    def event_count(self) -> int:
        return sum(length for _, length in self.event_spans) // KD_BUF_SIZE

    def chunks_of_records(self) -> Iterator[list[KdRecord]]:
        """The records of the events chunks in batches of at most BATCH_RECORDS, each in time order.

        The kernel merges its per-CPU buffers by time before writing, so the sort is only a
        safety net; batching keeps memory bounded however large a chunk is.
        """
        assert self._map is not None
        step = BATCH_RECORDS * KD_BUF_SIZE
        for offset, length in self.event_spans:
            for start in range(offset, offset + length, step):
                end = min(start + step, offset + length)
                batch = list(records(memoryview(self._map)[start:end]))
                if any(batch[i].timestamp > batch[i + 1].timestamp for i in range(len(batch) - 1)):
                    batch.sort(key=lambda r: r.timestamp)
                yield batch

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None


def describe_magic(head: bytes) -> str | None:
    """'v3' for a version 3 trace, the old version's name for older ones, None for anything else."""
    if len(head) < 4:
        return None
    magic = int.from_bytes(head[:4], "little")
    if magic in MAGICS_V3:
        return "v3"
    return OLD_MAGICS.get(magic)


def _skip(trace: KtraceFile, why: str) -> None:
    trace.skipped[why] = trace.skipped.get(why, 0) + 1


def open_ktrace(path: Path) -> KtraceFile:
    """Parse ``path``; raise :class:`TraceFileError` (one sentence) when it cannot be used."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise TraceFileError(f"Cannot read {path} ({exc.strerror}); check the path and its"
                             f" permissions.") from None
    try:
        size = os.fstat(fd).st_size
        if size < HEADER.size:
            raise TraceFileError(f"{path} is truncated: it ends inside the {HEADER.size}-byte ktrace header;"
                                 f" copy the whole file from the Mac again.")
        data = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise TraceFileError(f"Cannot read {path} ({exc.strerror}); check the path and its"
                             f" permissions.") from None
    finally:
        os.close(fd)
    try:
        trace = _parse(path, data)
    except BaseException:
        data.close()
        raise
    trace._map = data
    return trace


def _parse(path: Path, data: mmap.mmap) -> KtraceFile:
    fields = HEADER.unpack_from(data, 0)
    magic, major, minor, header_size, numer, denom, start, wall_s, wall_us, _tz, _dst, flags = fields
    version = describe_magic(bytes(data[:4]))
    if version is None:
        raise TraceFileError(f"{path} is not a ktrace file (it does not start with a ktrace magic number);"
                             f" give a .ktrace or .artrace file recorded on a Mac.")
    if version != "v3":
        raise TraceFileError(f"{path} is a {version} kdebug trace; stax reads version 3 ktrace files:"
                             f" record it again with Apple's ktrace tool on macOS 10.12 or later.")
    if not flags & FLAG_64BIT:
        raise TraceFileError(f"{path} was recorded by a 32-bit kernel; stax reads 64-bit traces only.")
    if not numer or not denom:
        raise TraceFileError(f"{path} has a damaged header (its timebase is {numer}/{denom});"
                             f" copy the file from the Mac again.")
    body = CHUNK.size + header_size
    if header_size < HEADER_FIELDS_AFTER_CHUNK or body > len(data):
        raise TraceFileError(f"{path} has a damaged header (it claims {header_size} header bytes in a"
                             f" {len(data)}-byte file); copy the file from the Mac again.")
    trace = KtraceFile(path, KtraceHeader(magic, major, minor, numer, denom, start, wall_s, wall_us, flags))
    _read_chunks(trace, data, HEADER.size, body)  # sub-chunks of the header
    _read_chunks(trace, data, _align8(body), len(data))
    if not trace.event_spans:
        raise TraceFileError(f"{path} holds no kdebug events (no events chunk was found); record the trace"
                             f" again with events enabled.")
    return trace


def _align8(offset: int) -> int:
    return (offset + 7) & ~7


def _read_chunks(trace: KtraceFile, data: mmap.mmap, offset: int, end: int) -> None:
    while offset + CHUNK.size <= end:
        tag, major, _minor, length = CHUNK.unpack_from(data, offset)
        if tag == 0 and length == 0:  # zero padding to the end (or to the next page)
            offset += 8
            continue
        payload = offset + CHUNK.size
        if tag == TAG_EVENTS and length % KD_BUF_SIZE == 0:
            payload += FUTURE_TIMESTAMP  # xnu >= 10002: a 24-byte header, size counts records only
            records_length = length
        elif tag == TAG_EVENTS:
            payload += FUTURE_TIMESTAMP
            records_length = length - FUTURE_TIMESTAMP
        else:
            records_length = length
        available = max(0, min(end, len(data)) - payload)
        cut = records_length > available or length > (2**62)
        if tag == TAG_EVENTS:
            if major not in READ_VERSIONS:
                _skip(trace, f"events chunks of version {major}")
            elif records_length % KD_BUF_SIZE:
                _skip(trace, "events chunks whose size is not whole records")
            else:
                usable = min(records_length, available) // KD_BUF_SIZE * KD_BUF_SIZE
                if usable:
                    trace.event_spans.append((payload, usable))
                if cut:
                    trace.notes.append(f"the file ends inside an events chunk: its last"
                                       f" {(records_length - usable) // KD_BUF_SIZE:,} records are missing"
                                       f" (was the copy cut short?)")
        elif cut:
            trace.notes.append(f"the file ends inside a chunk (tag {tag:#x}); it was skipped")
        elif tag == TAG_THREAD_MAP:
            if major in READ_VERSIONS:
                trace.thread_map += thread_map(memoryview(data)[payload: payload + records_length])
            else:
                _skip(trace, f"thread-map chunks of version {major}")
        elif tag == TAG_MACHINE_INFO:
            try:
                info = plistlib.loads(bytes(data[payload: payload + records_length]))
                if isinstance(info, dict):
                    trace.machine.update(info)
            except Exception:  # plistlib raises several types on damaged input
                _skip(trace, "machine-information chunks that are not property lists")
        elif tag not in KNOWN_UNUSED:
            _skip(trace, f"chunks of unknown kind {tag:#x}")
        if cut:
            return
        offset = _align8(payload + records_length)
    if offset < end and any(data[offset:end]):
        trace.notes.append(f"the file ends with {end - offset} bytes too few for a chunk header;"
                           f" they were skipped")
