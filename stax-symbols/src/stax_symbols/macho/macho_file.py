"""Open a Mach-O file on disk, thin or universal, and pick the slice that was meant.

A recording stores each image's UUID, so its sources pick the slice with that UUID; here a
slice is picked by architecture name (``stax symbolize --arch``), else it must be the only
one.  Each failure is :class:`MachoError` with one sentence.
"""

from __future__ import annotations

import os

import attrs

from stax_symbols.macho.fat import Slice, fat_slices, is_fat, table_size
from stax_symbols.macho.load_commands import (
    HEADER_SIZE,
    MachImage,
    MachoError,
    commands_size,
    parse_image,
)


@attrs.frozen(slots=True)
class MachoSlice:
    """One architecture of a file: where it starts in the file, and its load commands."""

    path: str
    base: int
    size: int
    image: MachImage

    def read(self, offset: int, size: int) -> bytes:
        """``size`` bytes at image offset ``offset`` (raises MachoError past the slice)."""
        if offset < 0 or size < 0 or offset + size > self.size:
            raise MachoError(f"{self.path}: {size} bytes at offset {offset:#x} lie outside the image")
        with open(self.path, "rb") as stream:
            stream.seek(self.base + offset)
            data = stream.read(size)
        if len(data) != size:
            raise MachoError(f"{self.path} is shorter than its load commands say")
        return data


@attrs.frozen(slots=True)
class MachoFile:
    path: str
    slices: tuple[MachoSlice, ...]
    universal: bool

    @property
    def arches(self) -> list[str]:
        return [s.image.arch for s in self.slices]

    def select(self, arch: str | None = None) -> MachoSlice:
        """The slice named ``arch``, else the only one (by UUID: see the sources)."""
        if arch is not None:
            for candidate in self.slices:
                if candidate.image.arch == arch:
                    return candidate
            raise MachoError(
                f"{self.path} has no {arch} slice (it has {', '.join(self.arches)});"
                f" pass one of those with --arch"
            )
        if len(self.slices) == 1:
            return self.slices[0]
        raise MachoError(
            f"{self.path} is a universal binary ({', '.join(self.arches)}); choose one with --arch"
        )


def is_macho_file(head: bytes) -> bool:
    """Whether the first bytes of a file are a (64-bit, little-endian) Mach-O or universal header."""
    return is_fat(head) or head[:4] == b"\xcf\xfa\xed\xfe"


def open_macho(path: str) -> MachoFile:
    """Read the headers of every slice of ``path`` (raises OSError, or MachoError whose text
    is the reason alone: ``it is not a Mach-O file``)."""
    with open(path, "rb") as stream:
        file_size = os.fstat(stream.fileno()).st_size
        head = stream.read(HEADER_SIZE)
        if is_fat(head):
            stream.seek(0)
            table = stream.read(table_size(head))
            slices = fat_slices(table, file_size)
            universal = True
        else:
            slices = [Slice(0, 0, 0, file_size)]
            universal = False
        out = []
        for s in slices:
            stream.seek(s.offset)
            first = stream.read(HEADER_SIZE)
            size = commands_size(first)
            stream.seek(s.offset)
            commands = stream.read(size)
            try:
                image = parse_image(commands)
            except MachoError as exc:
                raise MachoError(f"it is damaged ({exc})") from None
            out.append(MachoSlice(path, s.offset, s.size, image))
    return MachoFile(path, tuple(out), universal)
