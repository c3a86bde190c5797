"""One perf ring buffer: the mmap of an event fd, read from data_tail up to data_head.

perf_event_open(2), "MMAP layout": the mapping is 1 metadata page followed by 2^n
data pages.  The kernel appends records at ``data_head``; we consume up to it and
store ``data_tail`` so the kernel may reuse that space (a writable mapping is what
tells the kernel we maintain data_tail; a full buffer then drops records and
reports PERF_RECORD_LOST rather than overwriting).  Both counters run freely; the
offset into the data area is ``counter % data_size``.  The kernel only advances
data_head past complete records, so [tail, head) never holds a partial one, though
a record may wrap around the end of the area.

Memory ordering: the man page asks for an rmb() after reading data_head and an
mb() before writing data_tail.  On x86-64 (TSO: loads are not reordered with
loads, stores are not reordered with earlier loads) both are compiler barriers,
and each access here is a separate C-level load/store through cffi, so plain
accesses are correct there.  On weakly ordered CPUs (arm64) the interpreter's own
calls between the head load and the data copy order them in practice, but not by
contract; that is the one place this module would need a real barrier.
"""

from __future__ import annotations

import mmap
from typing import Any

from stax_binfmt.perf_event_ffi import ffi

PAGE_SIZE = mmap.PAGESIZE


class RingBuffer:
    """The mapped ring of one perf event fd (the fd stays owned by the caller)."""

    def __init__(self, fd: int, data_pages: int) -> None:
        if data_pages <= 0 or data_pages & (data_pages - 1):
            raise ValueError(f"data_pages must be a power of two, not {data_pages}")
        self.data_size = data_pages * PAGE_SIZE
        self._mask = self.data_size - 1
        # PROT_WRITE: we must write data_tail (otherwise the kernel runs the buffer in
        # overwrite mode).  Python's mmap dups the fd; close() releases that copy.
        self._map = mmap.mmap(fd, PAGE_SIZE + self.data_size, mmap.MAP_SHARED,
                              mmap.PROT_READ | mmap.PROT_WRITE)
        self._raw: Any = ffi().from_buffer(self._map)
        self._page: Any = ffi().cast("struct perf_event_mmap_page *", self._raw)
        self._data = memoryview(self._map)[PAGE_SIZE:]
        self.fd = fd

    def available(self) -> int:
        """Bytes written by the kernel and not yet consumed."""
        return self._page.data_head - self._page.data_tail

    def read(self) -> bytes:
        """Copy out every complete record in the buffer and hand the space back to the kernel.

        Copying first (two memcpy's at most, for the wrapped case) means the kernel
        can refill the space while we decode, so a slow decode does not lose records.
        """
        page = self._page
        head = page.data_head  # aligned 8-byte load; see the ordering note above
        tail = page.data_tail
        if head == tail:
            return b""
        size = head - tail
        if size > self.data_size:
            # cannot happen while we own data_tail (the kernel drops records rather than
            # overrun it); if it ever does, the bytes are unusable: resynchronise at head
            page.data_tail = head
            return b""
        start = tail & self._mask
        end = start + size
        if end <= self.data_size:
            chunk = self._data[start:end].tobytes()
        else:
            chunk = self._data[start:].tobytes() + self._data[: end - self.data_size].tobytes()
        page.data_tail = head
        return chunk

    def close(self) -> None:
        """Unmap (idempotent)."""
        if self._map.closed:
            return
        self._data.release()
        ffi().release(self._raw)
        self._page = None
        self._map.close()
