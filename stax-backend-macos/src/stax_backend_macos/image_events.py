"""Images from dyld's kdebug events -> :class:`stax.events.ImageLoad` (Mach-O, UUID as build id).

For each image it maps, dyld traces (dyld ``Tracing.cpp`` ``kdebug_trace_dyld_image``):
the path as a ``kdebug_trace_string`` (TRACE_STRING_GLOBAL, an id), then
DYLD_UUID_MAP_A (UUID halves, mach header address) and DYLD_UUID_MAP_B (file object
id, the path's string id), then invalidates the string id.  The image is announced at
MAP_B with ``start`` = the mach header address and ``file_offset`` 0, so frames carry
offsets from the mach header, which is what the Mach-O symbol sources expect
(docs/plugins.md).  Without a path (older dyld passes no id) the path is
``[UUID]``: the symbol sources still find the image by UUID in a dyld shared cache.

The events give no size.  An image extends to the next image of the same process
above it, at most :data:`MAX_IMAGE_SPAN`; when a new image lands inside an
earlier one's extent, the earlier one is announced again ending where the new one
begins (the address map replaces a mapping with its own new extent).  exec forgets
a process's images, as the recording's address map does.
"""

from __future__ import annotations

import bisect
import uuid

from stax.events import Event, ImageKind, ImageLoad
from stax_backend_macos.kd_buf import KdRecord
from stax_backend_macos.kdebug_codes import DYLD_UUID_MAP_A, DYLD_UUID_MAP_B, DYLD_UUID_SHARED_CACHE_A
from stax_backend_macos.thread_events import ThreadTable
from stax_backend_macos.trace_strings import TraceStrings

MAX_IMAGE_SPAN = 1 << 30
"""The most an image is assumed to span (1 GiB: far more than any __TEXT)."""


def uuid_bytes(low: int, high: int) -> bytes:
    """The 16 UUID bytes dyld traced as two 8-byte little-endian loads."""
    return (low & (2**64 - 1)).to_bytes(8, "little") + (high & (2**64 - 1)).to_bytes(8, "little")


class ImageEvents:
    """Announces images per process with extents that never overlap."""

    def __init__(self, table: ThreadTable, strings: TraceStrings, clock) -> None:  # noqa: ANN001
        self.table = table
        self.strings = strings
        self.clock = clock
        self._pending: dict[int, tuple[int, bytes, int]] = {}
        """tid -> (time, uuid, load address) between MAP_A and MAP_B."""
        self._images: dict[int, dict[int, tuple[str, bytes]]] = {}
        self._starts: dict[int, list[int]] = {}
        self.shared_caches: dict[int, tuple[str, int]] = {}
        """pid -> (cache UUID text, slid base address), from DYLD_UUID_SHARED_CACHE_A."""
        self.unknown_process = 0
        self.loaded = 0

    def feed(self, record: KdRecord, event_id: int) -> list[Event]:
        if event_id == DYLD_UUID_MAP_A:
            out = self._flush(record.tid)  # a MAP_A whose MAP_B never came
            self._pending[record.tid] = (record.timestamp, uuid_bytes(record.arg1, record.arg2), record.arg3)
            return out
        if event_id == DYLD_UUID_MAP_B:
            return self._flush(record.tid, self.strings.by_id(record.arg2) if record.arg2 else None)
        if event_id == DYLD_UUID_SHARED_CACHE_A:
            pid = self.table.pid(record.tid)
            if pid is not None:
                cache = uuid.UUID(bytes=uuid_bytes(record.arg1, record.arg2))
                self.shared_caches[pid] = (str(cache), record.arg3)
        return []

    def _flush(self, tid: int, path: str | None = None) -> list[Event]:
        pending = self._pending.pop(tid, None)
        if pending is None:
            return []
        ticks, build_id, start = pending
        pid = self.table.pid(tid)
        if pid is None:
            self.unknown_process += 1
            return []
        return self.load(self.clock(ticks), pid, start, build_id,
                         path or f"[{str(uuid.UUID(bytes=build_id)).upper()}]")

    def load(self, time: int, pid: int, start: int, build_id: bytes | None, path: str) -> list[Event]:
        """Announce one image (also used for images known before tracing began)."""
        images = self._images.setdefault(pid, {})
        starts = self._starts.setdefault(pid, [])
        out: list[Event] = []
        index = bisect.bisect_left(starts, start)
        if index < len(starts) and starts[index] == start:
            starts.pop(index)  # the same address again: the new image replaces the old
        else:
            below = starts[index - 1] if index > 0 else None
            if below is not None and below + MAX_IMAGE_SPAN > start:
                old_path, old_id = images[below]
                out.append(self._event(time, pid, below, start, old_path, old_id))
        above = starts[index] if index < len(starts) else None
        end = start + MAX_IMAGE_SPAN if above is None else min(above, start + MAX_IMAGE_SPAN)
        starts.insert(index, start)
        images[start] = (path, build_id)
        out.append(self._event(time, pid, start, end, path, build_id))
        self.loaded += 1
        return out

    @staticmethod
    def _event(time: int, pid: int, start: int, end: int, path: str, build_id: bytes | None) -> ImageLoad:
        return ImageLoad(time, pid, start, end, 0, path, ImageKind.MACHO, build_id)

    def exec(self, pid: int) -> None:
        """The process exec'd: its old images are gone."""
        self._images.pop(pid, None)
        self._starts.pop(pid, None)
