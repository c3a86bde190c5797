"""The DWARF sections of one ELF file, read into memory once (decompressed when needed).

Debian's debug packages and ``objcopy --compress-debug-sections`` store .debug_* as
SHF_COMPRESSED (zlib) sections.  The section header table is read here with ``struct``
(gABI "Sections"): pyelftools builds an object per section and parses hash tables on the
way, a few milliseconds per file that a cold lookup of a handful of addresses notices.
Each compressed section is inflated in one call into a buffer of the size its
compression header announces (gABI "Section Compression").  The DWARF itself is parsed by
our own readers (see :mod:`.dwarf_forms` for why).
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import attrs

from stax_symbols.dwarf.forms import DwarfError

_WANTED = {
    ".debug_info": "info",
    ".debug_abbrev": "abbrev",
    ".debug_str": "str",
    ".debug_line_str": "line_str",
    ".debug_line": "line",
    ".debug_ranges": "ranges",
    ".debug_rnglists": "rnglists",
    ".debug_addr": "addr",
    ".debug_str_offsets": "str_offsets",
    ".debug_aranges": "aranges",
}

# gABI numbers: e_ident bytes, section types and flags, compression types.
_ELFCLASS32 = 1
_ELFCLASS64 = 2
_ELFDATA2LSB = 1
_ELFDATA2MSB = 2
_SHT_NOBITS = 8
_SHF_COMPRESSED = 0x800
_ELFCOMPRESS_ZLIB = 1
_SHN_XINDEX = 0xFFFF
_MAX_FIRST_BUFFER = 1 << 28
_MAX_SECTIONS = 1 << 16
_MAX_ENTRY_SIZE = 256
"""Far more than any real file has; a damaged count must not make us read gigabytes."""


@attrs.frozen(slots=True)
class DwarfSections:
    """Raw bytes of the sections the resolver reads; a missing section is ``b""``."""

    info: bytes = b""
    abbrev: bytes = b""
    str: bytes = b""
    line_str: bytes = b""
    line: bytes = b""
    ranges: bytes = b""
    rnglists: bytes = b""
    addr: bytes = b""
    str_offsets: bytes = b""
    aranges: bytes = b""
    little_endian: bool = True
    address_size: int = 8


@attrs.frozen(slots=True)
class _Section:
    name: str
    type: int
    flags: int
    offset: int
    size: int


def has_debug_info(stream: BinaryIO) -> bool:
    """Whether the ELF file in ``stream`` carries DWARF DIEs (a .debug_info with contents, not a
    NOBITS stub); reads only the section headers (raises DwarfError, OSError, struct.error)."""
    _, _, sections = _section_headers(stream)
    return any(s.name == ".debug_info" and s.type != _SHT_NOBITS and s.size > 0 for s in sections)


def read_dwarf_sections(stream: BinaryIO) -> DwarfSections:
    """Read the DWARF sections of the ELF file in ``stream`` (raises DwarfError, OSError, zlib.error)."""
    little_endian, is64, sections = _section_headers(stream)
    found: dict[str, bytes] = {}
    for section in sections:
        key = _WANTED.get(section.name)
        if key is not None and section.type != _SHT_NOBITS:
            found[key] = _section_data(stream, section, is64, "<" if little_endian else ">")
    return DwarfSections(**found, little_endian=little_endian, address_size=8 if is64 else 4)


def _section_headers(stream: BinaryIO) -> tuple[bool, bool, list[_Section]]:
    """(little endian, 64-bit, the section header table with names): gABI "ELF Header", "Sections"."""
    stream.seek(0)
    header = stream.read(64)
    if len(header) < 52 or header[:4] != b"\x7fELF":
        raise DwarfError("not an ELF file")
    elf_class, data_encoding = header[4], header[5]
    if elf_class not in (_ELFCLASS32, _ELFCLASS64) or data_encoding not in (_ELFDATA2LSB, _ELFDATA2MSB):
        raise DwarfError(f"unknown ELF class {elf_class} or data encoding {data_encoding}")
    little_endian = data_encoding == _ELFDATA2LSB
    is64 = elf_class == _ELFCLASS64
    order = "<" if little_endian else ">"
    if is64:
        shoff, = struct.unpack_from(order + "Q", header, 0x28)
        entsize, count, names_index = struct.unpack_from(order + "HHH", header, 0x3A)
        entry = struct.Struct(order + "IIQQQQIIQQ")
    else:
        shoff, = struct.unpack_from(order + "I", header, 0x20)
        entsize, count, names_index = struct.unpack_from(order + "HHH", header, 0x2E)
        entry = struct.Struct(order + "IIIIIIIIII")
    if shoff == 0:
        return little_endian, is64, []
    if not entry.size <= entsize <= _MAX_ENTRY_SIZE:
        raise DwarfError(f"section headers of {entsize} bytes")
    stream.seek(shoff)
    first = stream.read(entsize)
    if len(first) < entry.size:
        raise DwarfError("the section header table runs past the end of the file")
    # More than 0xff00 sections, or a names index past it, live in section 0's size and link.
    _, _, _, _, _, size0, link0, _, _, _ = entry.unpack_from(first)
    if count == 0:
        count = size0
    if names_index == _SHN_XINDEX:
        names_index = link0
    if count == 0:
        return little_endian, is64, []
    if count > _MAX_SECTIONS:
        raise DwarfError(f"{count} sections")
    table = first + stream.read(entsize * (count - 1))
    if len(table) < entsize * count:
        raise DwarfError("the section header table runs past the end of the file")
    raw = [entry.unpack_from(table, i * entsize) for i in range(count)]
    if not 0 < names_index < count:
        raise DwarfError("no section name table")
    file_size = stream.seek(0, 2)
    _, names_type, _, _, names_offset, names_size, _, _, _, _ = raw[names_index]
    if names_type == _SHT_NOBITS or names_offset + names_size > file_size:
        raise DwarfError("the section name table runs past the end of the file")
    stream.seek(names_offset)
    names = stream.read(names_size)
    out = []
    for name, kind, flags, _addr, offset, size, _link, _info, _align, _entsize in raw:
        end = names.find(b"\0", name)
        text = names[name : end if end >= 0 else len(names)].decode("utf-8", "replace")
        out.append(_Section(text, kind, flags, offset, size))
    return little_endian, is64, out


def _section_data(stream: BinaryIO, section: _Section, is64: bool, order: str) -> bytes:
    if section.offset + section.size > stream.seek(0, 2):
        raise DwarfError(f"section {section.name} runs past the end of the file")
    stream.seek(section.offset)
    data = stream.read(section.size)
    if len(data) < section.size:
        raise DwarfError(f"section {section.name} runs past the end of the file")
    if not section.flags & _SHF_COMPRESSED:
        return data
    # Elf64_Chdr: ch_type, ch_reserved, ch_size, ch_addralign; Elf32_Chdr: type, size, align.
    chdr = struct.Struct(order + ("IIQQ" if is64 else "III"))
    if len(data) < chdr.size:
        raise DwarfError(f"section {section.name} is too short for its compression header")
    fields = chdr.unpack_from(data)
    kind, size = fields[0], fields[2] if is64 else fields[1]
    if kind != _ELFCOMPRESS_ZLIB:
        raise DwarfError(f"section {section.name} is compressed with method {kind}, not zlib")
    # One buffer of the announced size, so zlib never grows it (a damaged header that
    # announces too much only costs a bounded first allocation).
    out = zlib.decompress(memoryview(data)[chdr.size :], bufsize=min(max(size, 1), _MAX_FIRST_BUFFER))
    if len(out) != size:
        raise DwarfError(f"section {section.name} inflates to {len(out)} bytes, not {size}")
    return out
