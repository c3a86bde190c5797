"""RingBuffer reading, including records that wrap around the end of the data area.

A regular file laid out like a perf mmap (1 header page + 2^n data pages) stands in
for the kernel's buffer so the wrap can be placed exactly; one test maps a real event.
"""

from __future__ import annotations

import mmap
import os
import struct
import tempfile

import pytest

from stax_backend_linux.capture.ring_buffer import PAGE_SIZE, RingBuffer
from stax_backend_linux.decode.record_decoder import RecordDecoder
from stax_binfmt import perf_event_attr as pea
from stax_binfmt.perf_event_ffi import PerfEventError, perf_event_open
from tests.backend_linux import perf_record_bytes as pr

HEAD_AT, TAIL_AT = 1024, 1032


def _fake_ring(data_pages: int) -> int:
    fd, path = tempfile.mkstemp()
    os.unlink(path)
    os.ftruncate(fd, PAGE_SIZE * (1 + data_pages))
    return fd


def _write(fd: int, tail: int, records: bytes, data_size: int) -> None:
    """Place ``records`` at free-running position ``tail`` (wrapping) and set head/tail."""
    start = tail % data_size
    first = records[: data_size - start]
    os.pwrite(fd, first, PAGE_SIZE + start)
    if len(records) > len(first):
        os.pwrite(fd, records[len(first):], PAGE_SIZE)
    os.pwrite(fd, struct.pack("<QQ", tail + len(records), tail), HEAD_AT)


def test_read_wrapped_records() -> None:
    fd = _fake_ring(1)
    ring = RingBuffer(fd, 1)
    try:
        records = b"".join(pr.sample(0x401000 + i, 5, 5, 100 + i, 0, 1000, [pr.CONTEXT_USER, 0x401000 + i])
                           for i in range(4))
        tail = 3 * ring.data_size - 72  # free-running counters: third lap, 72 bytes before the end
        _write(fd, tail, records, ring.data_size)
        assert ring.available() == len(records)
        chunk = ring.read()
        assert chunk == records
        assert [e.time for e in RecordDecoder().decode(chunk)] == [100, 101, 102, 103]
        head, new_tail = struct.unpack("<QQ", os.pread(fd, 16, HEAD_AT))
        assert new_tail == head == tail + len(records)
        assert ring.read() == b"" and ring.available() == 0
    finally:
        ring.close()
        ring.close()  # idempotent
        os.close(fd)


def test_read_without_wrap_and_rejects_bad_sizes() -> None:
    fd = _fake_ring(2)
    try:
        with pytest.raises(ValueError):
            RingBuffer(fd, 3)
        ring = RingBuffer(fd, 2)
        records = pr.comm(1, 1, "x", 9, 0) * 3
        _write(fd, 64, records, ring.data_size)
        assert ring.read() == records
        ring.close()
    finally:
        os.close(fd)


def test_real_event_ring_receives_records() -> None:
    attr = pea.sampling_attr(999, kernel=False, enable_on_exec=False, inherit=False, wakeup_bytes=4096)
    try:
        fd = perf_event_open(attr, 0, -1)
    except PerfEventError as exc:  # pragma: no cover
        pytest.skip(f"perf_event_open unavailable: {exc}")
    ring = RingBuffer(fd, 8)
    try:
        # an executable mapping made now is reported as MMAP2 (attr.mmap/mmap2)
        m = mmap.mmap(-1, PAGE_SIZE, prot=mmap.PROT_READ | mmap.PROT_EXEC)
        m.close()
        chunk = ring.read()
        events = RecordDecoder().decode(chunk)
        assert any(getattr(e, "pid", None) == os.getpid() for e in events)
    finally:
        ring.close()
        os.close(fd)
