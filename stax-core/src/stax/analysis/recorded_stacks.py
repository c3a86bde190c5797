"""The recorded stacks of a recording, each frame with its address, image, file, line and inlines.

The profile views merge frames per function (:class:`stax.analysis.profile.DisplayFrame`);
exports keep what was recorded: one frame per address in an image, with the functions
inlined there as source lines of that one frame.  That is what pprof calls a location
(lines innermost first) and what the Firefox Profiler calls a native frame with inline
depths.  The pprof, speedscope and Firefox Profiler exports share it.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

import attrs

from stax.analysis.frame_names import DEFAULT_STYLE, FrameStyle, frame_labels, inline_details
from stax.events import ImageKind
from stax.recording.reader import Recording
from stax.recording.validation import unknown_stack
from stax.stack_table import EMPTY_STACK, Image

ABSOLUTE_KINDS = frozenset({ImageKind.KERNEL, ImageKind.JIT, ImageKind.UNKNOWN})
"""Images whose frame offsets are absolute addresses rather than file offsets."""


@attrs.frozen(slots=True)
class SourceLine:
    """One function executing at an address: the real function or a call inlined into it.

    ``file`` and ``line`` say where it executes (for a function another was inlined into:
    the call site of that inlined call); None when debug info did not say.
    """

    function: str
    file: str | None = None
    line: int | None = None


@attrs.frozen(slots=True)
class FrameDetail:
    """One recorded frame: an address in an image, with the functions executing there.

    ``name`` is the name every stax view shows (the function, or ``image+0xoffset`` when
    no symbol source named it).  ``address`` is the offset in the image (the absolute
    address for kernel, JIT and unknown images); for a caller's frame, which was recorded as
    a return address, it is one less, inside the call instruction, where it was named.
    ``lines`` are innermost first: the calls inlined at this address, then the function
    itself (``lines[-1]``, whose name is ``name``); one line when nothing was inlined.
    """

    name: str
    image_id: int
    address: int
    is_kernel: bool
    is_jit: bool
    resolved: bool
    lines: tuple[SourceLine, ...]

    @property
    def inlined(self) -> tuple[SourceLine, ...]:
        """The calls inlined at this address, innermost first (empty when there are none)."""
        return self.lines[:-1]


@attrs.define(slots=True, eq=False)
class RecordedStacks:
    """The stack tree of a recording with every frame's details and the images they are in.

    Stack ``s`` is frame ``frame_ids[s]`` called from stack ``parents[s]`` (-1: outermost);
    :meth:`frames_of` walks one from its leaf.  ``frames`` is indexed by frame id.
    """

    frames: list[FrameDetail]
    images: dict[int, Image]
    parents: array
    frame_ids: array
    source: str = "The recording"
    """The file, named in the sentence if a stack id turns out not to be in the stack table."""

    @classmethod
    def from_recording(cls, recording: Recording, style: FrameStyle = DEFAULT_STYLE) -> RecordedStacks:
        """Every frame, image and stack of ``recording`` (one query per table), named as ``style``
        says (demangled or not, inlined calls kept or folded)."""
        labels = frame_labels(recording, style)
        addresses = recording.frame_addresses()
        inlines = inline_details(recording, style)
        frames: list[FrameDetail] = []
        for frame_id, (label, (_, image_id, offset, _, is_return, *_)) in enumerate(
            zip(labels, addresses, strict=True)
        ):
            lines = tuple(SourceLine(f, file, line) for f, file, line in inlines.get(frame_id, ()))
            lines += (SourceLine(label.name, label.file, label.line),)
            address = offset - 1 if is_return and offset > 0 else offset
            frames.append(FrameDetail(label.name, image_id, address, label.is_kernel, label.is_jit,
                                      label.resolved, lines))
        parents, frame_ids = recording.stack_arrays()
        images = {image.id: image for image in recording.images()}
        return cls(frames, images, parents, frame_ids, str(recording.path))

    def frames_of(self, stack_id: int) -> Iterator[int]:
        """The frame ids of a stack, leaf first (none for the empty stack)."""
        parents, frame_ids = self.parents, self.frame_ids
        if type(stack_id) is not int or not -1 <= stack_id < len(parents):  # noqa: E721
            # Recording.open checked the tree (parents before children); ids from rows are
            # checked where they are walked, as in DisplayTreeBuilder.node_of
            raise unknown_stack(self.source, stack_id)
        while stack_id != EMPTY_STACK:
            yield frame_ids[stack_id]
            stack_id = parents[stack_id]

    def is_absolute(self, image_id: int) -> bool:
        """True when the image's frame addresses are absolute (kernel, JIT, unknown)."""
        image = self.images.get(image_id)
        return image is None or image.kind in ABSOLUTE_KINDS
