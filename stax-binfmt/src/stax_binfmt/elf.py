"""Read an ELF file's GNU build id (NT_GNU_BUILD_ID note) with struct alone.

Capture needs the build id of mappings the kernel did not report one for (mappings
that existed before we attached, or whose note page was not resident), so symbols
can be found later even if the file changes.  Only the program headers and PT_NOTE
segments are read: a few hundred bytes per file.  Layouts from the ELF gABI
(Elf32/64_Ehdr, Elf32/64_Phdr, Elf_Nhdr).
"""

from __future__ import annotations

import os
import struct

PT_NOTE = 4
NT_GNU_BUILD_ID = 3
_MAX_NOTE_BYTES = 1 << 16


def read_build_id(path: str | os.PathLike[str]) -> bytes | None:
    """The build id bytes of the ELF file at ``path``, or None (not ELF, no note, unreadable)."""
    try:
        with open(path, "rb") as f:
            ident = f.read(64)
            if len(ident) < 52 or ident[:4] != b"\x7fELF":
                return None
            is64 = ident[4] == 2
            order = "<" if ident[5] == 1 else ">"
            if is64:
                phoff, = struct.unpack_from(order + "Q", ident, 32)
                phentsize, phnum = struct.unpack_from(order + "HH", ident, 54)
                phdr = struct.Struct(order + "II QQQQ")  # p_type, p_flags, p_offset, vaddr, paddr, filesz
            else:
                phoff, = struct.unpack_from(order + "I", ident, 28)
                phentsize, phnum = struct.unpack_from(order + "HH", ident, 42)
                phdr = struct.Struct(order + "I I III I")  # p_type, p_offset, vaddr, paddr, filesz, ...
            if not phoff or phnum == 0 or phnum > 4096 or phentsize < phdr.size:
                return None
            f.seek(phoff)
            table = f.read(phentsize * phnum)
            for i in range(phnum):
                if (i + 1) * phentsize > len(table):
                    break
                fields = phdr.unpack_from(table, i * phentsize)
                if fields[0] != PT_NOTE:
                    continue
                if is64:
                    offset, filesz = fields[2], fields[5]
                else:
                    offset, filesz = fields[1], fields[4]
                f.seek(offset)
                found = _find_build_id(f.read(min(filesz, _MAX_NOTE_BYTES)), order)
                if found is not None:
                    return found
    except (OSError, struct.error):
        return None
    return None


def _find_build_id(notes: bytes, order: str) -> bytes | None:
    """Walk Elf_Nhdr {namesz, descsz, type} + name + desc, each padded to 4 bytes."""
    nhdr = struct.Struct(order + "III")
    pos = 0
    while pos + nhdr.size <= len(notes):
        namesz, descsz, ntype = nhdr.unpack_from(notes, pos)
        name_at = pos + nhdr.size
        desc_at = name_at + ((namesz + 3) & ~3)
        end = desc_at + ((descsz + 3) & ~3)
        if end > len(notes) + 3:
            return None
        if ntype == NT_GNU_BUILD_ID and notes[name_at:name_at + namesz] == b"GNU\0":
            return notes[desc_at:desc_at + descsz] or None
        pos = end
    return None
