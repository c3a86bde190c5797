"""Per-process address maps built from image-load events: address -> (image, offset).

Both backends report mappings as :class:`stax.events.ImageLoad`; this turns a raw
instruction address into the (image id, file offset) pair a frame is interned by,
following fork (the child inherits the parent's maps) and exec (maps are reset).
"""

from __future__ import annotations

import bisect
import re

import attrs

from stax.events import ImageKind, ImageLoad
from stax.stack_table import ImageTable

KERNEL_PID = -1
UNKNOWN_IMAGE_PATH = "[unknown]"
JITDUMP_PATHS_OPTION = "jitdump_paths"
"""``SymbolContext.options`` key: ``{pid: (path, ...)}`` of the jitdump files each process mapped."""

# A JIT runtime writing a jitdump (perf's jitdump-specification.txt) mmaps its
# ``jit-PID.dump`` executable so that perf sees it; that mapping is how the file is found.
_JITDUMP_NAME = re.compile(r"jit-\d+\.dump")


@attrs.define(slots=True)
class _Mapping:
    start: int
    end: int
    file_offset: int
    image_id: int


class AddressSpaces:
    """The mappings of every process seen so far, searchable by address."""

    def __init__(self, images: ImageTable) -> None:
        self.images = images
        self._maps: dict[int, list[_Mapping]] = {}
        self._starts: dict[int, list[int]] = {}
        self.kernel_image_id = images.intern("[kernel.kallsyms]", ImageKind.KERNEL)
        self._unknown_images: dict[int, int] = {}
        self.jitdump_paths: dict[int, list[str]] = {}
        """The ``jit-PID.dump`` files each process mapped, in mapping order."""

    def add(self, load: ImageLoad) -> None:
        """Record a mapping; a new mapping replaces whatever it overlaps."""
        if load.kind is ImageKind.KERNEL or load.pid == KERNEL_PID:
            return
        if load.path.endswith(".dump") and _JITDUMP_NAME.fullmatch(load.path.rsplit("/", 1)[-1]):
            paths = self.jitdump_paths.setdefault(load.pid, [])
            if load.path not in paths:
                paths.append(load.path)
        per_process = load.kind in (ImageKind.JIT, ImageKind.UNKNOWN)
        image_id = self.images.intern(
            load.path, load.kind, load.build_id, load.pid if per_process else None
        )
        maps = self._maps.setdefault(load.pid, [])
        starts = self._starts.setdefault(load.pid, [])
        # drop overlapped mappings (mmap over an existing range replaces it)
        keep = [m for m in maps if m.end <= load.start or m.start >= load.end]
        if len(keep) != len(maps):
            maps[:] = keep
            starts[:] = [m.start for m in keep]
        index = bisect.bisect_left(starts, load.start)
        starts.insert(index, load.start)
        maps.insert(index, _Mapping(load.start, load.end, load.file_offset, image_id))

    def fork(self, parent_pid: int, child_pid: int) -> None:
        """A new process starts with a copy of its parent's address space."""
        if parent_pid in self._maps and child_pid != parent_pid:
            self._maps[child_pid] = [attrs.evolve(m) for m in self._maps[parent_pid]]
            self._starts[child_pid] = list(self._starts[parent_pid])
        if parent_pid in self.jitdump_paths and child_pid != parent_pid:
            # inherited JIT code is described by the parent's dump
            child = self.jitdump_paths.setdefault(child_pid, [])
            child[:0] = [p for p in self.jitdump_paths[parent_pid] if p not in child]

    def exec(self, pid: int) -> None:
        """exec replaced the process image: forget every old mapping."""
        self._maps.pop(pid, None)
        self._starts.pop(pid, None)

    def resolve_user(self, pid: int, address: int) -> tuple[int, int]:
        """Return (image id, offset) for a user address; unmapped addresses get a per-process
        ``[unknown]`` image with the raw address as offset."""
        starts = self._starts.get(pid)
        if starts:
            index = bisect.bisect_right(starts, address) - 1
            if index >= 0:
                m = self._maps[pid][index]
                if address < m.end:
                    kind = self.images[m.image_id].kind
                    if kind in (ImageKind.JIT, ImageKind.UNKNOWN):
                        return m.image_id, address
                    return m.image_id, address - m.start + m.file_offset
        image_id = self._unknown_images.get(pid)
        if image_id is None:
            image_id = self.images.intern(UNKNOWN_IMAGE_PATH, ImageKind.UNKNOWN, None, pid)
            self._unknown_images[pid] = image_id
        return image_id, address

    def mappings(self) -> list[tuple[int, int, int, int, int]]:
        """(pid, image id, start, end, file offset) for every live mapping."""
        return [
            (pid, m.image_id, m.start, m.end, m.file_offset)
            for pid, maps in self._maps.items()
            for m in maps
        ]
