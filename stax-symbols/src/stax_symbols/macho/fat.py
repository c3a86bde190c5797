"""Universal ("fat") binaries: which architectures a file holds and where each slice starts.

A universal file starts with a big-endian ``fat_header`` and one ``fat_arch`` (or
``fat_arch_64`` for FAT_MAGIC_64) per slice (``<mach-o/fat.h>``); each slice is a complete
Mach-O image at its offset.  macholib's structure definitions decode them.  A thin file is
one slice at offset 0.
"""

from __future__ import annotations

import struct

import attrs
from macholib import mach_o
from macholib.ptypes import sizeof

from stax_symbols.macho.load_commands import MachoError, arch_name

_MAX_SLICES = 64


@attrs.frozen(slots=True)
class Slice:
    """One architecture of a file: its image is at ``[offset, offset + size)``."""

    cputype: int
    cpusubtype: int
    offset: int
    size: int

    @property
    def arch(self) -> str:
        return arch_name(self.cputype, self.cpusubtype)


def is_fat(head: bytes) -> bool:
    return len(head) >= 4 and struct.unpack_from(">I", head)[0] in (mach_o.FAT_MAGIC, mach_o.FAT_MAGIC_64)


def fat_slices(head: bytes, file_size: int) -> list[Slice]:
    """The slices listed at the start of a universal file (``head``: its first bytes, enough
    for the header and the arch table; raises MachoError)."""
    header_size = sizeof(mach_o.fat_header)
    if len(head) < header_size:
        raise MachoError("the file is too short for a universal header")
    header = mach_o.fat_header.from_str(head[:header_size], _endian_=">")
    if header.magic not in (mach_o.FAT_MAGIC, mach_o.FAT_MAGIC_64):
        raise MachoError("it is not a universal binary")
    if not 0 < header.nfat_arch <= _MAX_SLICES:
        raise MachoError(f"the universal header lists {header.nfat_arch} architectures")
    kind = mach_o.fat_arch64 if header.magic == mach_o.FAT_MAGIC_64 else mach_o.fat_arch
    entry_size = sizeof(kind)
    out = []
    for i in range(header.nfat_arch):
        at = header_size + i * entry_size
        if at + entry_size > len(head):
            raise MachoError("the universal header's arch table runs past the end of the file")
        arch = kind.from_str(head[at : at + entry_size], _endian_=">")
        if arch.offset + arch.size > file_size:
            raise MachoError(
                f"the {arch_name(arch.cputype, arch.cpusubtype)} slice runs past the end of the file"
            )
        out.append(Slice(arch.cputype, arch.cpusubtype, arch.offset, arch.size))
    return out


def table_size(head: bytes) -> int:
    """Bytes of universal header + arch table, from the first 8 bytes (to read it all at once)."""
    magic, count = struct.unpack_from(">II", head)
    kind = mach_o.fat_arch64 if magic == mach_o.FAT_MAGIC_64 else mach_o.fat_arch
    return sizeof(mach_o.fat_header) + min(count, _MAX_SLICES) * sizeof(kind)
