"""Interned stacks: a frame table and a prefix tree of (parent stack, frame).

A stack is stored once however many samples share it; a sample is a row of
integers (see :class:`SampleColumns`).  This is the transport between the
recording builder, observers, the recording file and the analyses.

Ids are dense integers starting at 0.  Stack id ``-1`` is the empty stack.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence

import attrs

from stax.events import ImageKind

EMPTY_STACK = -1


@attrs.frozen(slots=True)
class Image:
    """A code object frames point into: an ELF file, the kernel, the vDSO, a JIT region.

    ``pid`` is set only for per-process images (JIT code, anonymous memory);
    file-backed images are shared across processes.
    """

    id: int
    path: str
    kind: ImageKind
    build_id: bytes | None = None
    pid: int | None = None

    @property
    def name(self) -> str:
        """The short name shown for unresolved frames: ``libfoo.so`` in ``libfoo.so+0x1a2b``."""
        return self.path.rsplit("/", 1)[-1] or self.path


class ImageTable:
    """Interns images by identity (path, build id, pid for per-process images)."""

    def __init__(self) -> None:
        self.images: list[Image] = []
        self._index: dict[tuple[str, bytes | None, int | None], int] = {}

    def intern(
        self, path: str, kind: ImageKind, build_id: bytes | None = None, pid: int | None = None
    ) -> int:
        key = (path, build_id, pid)
        image_id = self._index.get(key)
        if image_id is None:
            image_id = len(self.images)
            self.images.append(Image(image_id, path, kind, build_id, pid))
            self._index[key] = image_id
        return image_id

    def __getitem__(self, image_id: int) -> Image:
        return self.images[image_id]

    def __len__(self) -> int:
        return len(self.images)


class FrameTable:
    """Interns frames by (image id, offset, is return address).

    ``offset`` is the file offset for file-backed images, the absolute address for
    the kernel, and the address for per-process JIT images.  ``is_kernel`` lets
    renderers split kernel from user frames without looking at images.
    ``is_return`` marks a caller frame whose address is a return address (the
    instruction after the call): symbolication looks it up at ``offset - 1`` so it
    names the calling function and the call's line.
    """

    def __init__(self) -> None:
        self.image_ids = array("q")
        self.offsets = array("Q")
        self.is_kernel = array("b")
        self.is_return = array("b")
        self._index: dict[tuple[int, int, bool], int] = {}

    def intern(self, image_id: int, offset: int, is_kernel: bool = False, is_return: bool = False) -> int:
        key = (image_id, offset, is_return)
        frame_id = self._index.get(key)
        if frame_id is None:
            frame_id = len(self.offsets)
            self.image_ids.append(image_id)
            self.offsets.append(offset)
            self.is_kernel.append(1 if is_kernel else 0)
            self.is_return.append(1 if is_return else 0)
            self._index[key] = frame_id
        return frame_id

    def lookup_offset(self, frame_id: int) -> int:
        """Where symbol sources should look this frame up."""
        offset = self.offsets[frame_id]
        return offset - 1 if self.is_return[frame_id] and offset else offset

    def __len__(self) -> int:
        return len(self.offsets)


class StackTable:
    """A prefix tree: stack ``i`` is frame ``frames[i]`` called from stack ``parents[i]``.

    Stacks are interned root first, so ``main -> driver -> hot_a`` and
    ``main -> driver -> hot_b`` share the ``main -> driver`` prefix.
    """

    def __init__(self) -> None:
        self.parents = array("q")
        self.frames = array("q")
        self._index: dict[tuple[int, int], int] = {}

    def intern_child(self, parent: int, frame_id: int) -> int:
        key = (parent, frame_id)
        stack_id = self._index.get(key)
        if stack_id is None:
            stack_id = len(self.frames)
            self.parents.append(parent)
            self.frames.append(frame_id)
            self._index[key] = stack_id
        return stack_id

    def intern(self, frames_root_first: Iterable[int]) -> int:
        stack_id = EMPTY_STACK
        for frame_id in frames_root_first:
            stack_id = self.intern_child(stack_id, frame_id)
        return stack_id

    def frames_leaf_first(self, stack_id: int) -> Iterator[int]:
        parents, frames = self.parents, self.frames
        while stack_id != EMPTY_STACK:
            yield frames[stack_id]
            stack_id = parents[stack_id]

    def frames_root_first(self, stack_id: int) -> list[int]:
        out = list(self.frames_leaf_first(stack_id))
        out.reverse()
        return out

    def __len__(self) -> int:
        return len(self.frames)


@attrs.define(slots=True)
class SampleColumns:
    """A columnar batch of on-CPU samples; ``stack_id`` indexes a :class:`StackTable`."""

    time: array = attrs.field(factory=lambda: array("q"))
    pid: array = attrs.field(factory=lambda: array("q"))
    tid: array = attrs.field(factory=lambda: array("q"))
    cpu: array = attrs.field(factory=lambda: array("q"))
    stack_id: array = attrs.field(factory=lambda: array("q"))
    weight: array = attrs.field(factory=lambda: array("q"))

    def append(self, time: int, pid: int, tid: int, cpu: int, stack_id: int, weight: int) -> None:
        self.time.append(time)
        self.pid.append(pid)
        self.tid.append(tid)
        self.cpu.append(cpu)
        self.stack_id.append(stack_id)
        self.weight.append(weight)

    def __len__(self) -> int:
        return len(self.time)

    def rows(self) -> Iterator[tuple[int, int, int, int, int, int]]:
        return zip(self.time, self.pid, self.tid, self.cpu, self.stack_id, self.weight, strict=True)

    def columns(self) -> tuple[array, array, array, array, array, array]:
        return (self.time, self.pid, self.tid, self.cpu, self.stack_id, self.weight)

    def clear(self) -> None:
        for column in self.columns():
            del column[:]

    def extend(self, other: SampleColumns) -> None:
        """Append ``other``'s samples (whole arrays: no per-sample work)."""
        for mine, theirs in zip(self.columns(), other.columns(), strict=True):
            mine.extend(theirs)

    def slice(self, start: int, end: int) -> SampleColumns:
        return SampleColumns(*(column[start:end] for column in self.columns()))

    def drop_first(self, n: int) -> None:
        for column in self.columns():
            del column[:n]

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[int, int, int, int, int, int]]) -> SampleColumns:
        cols = cls()
        for row in rows:
            cols.append(*row)
        return cols
