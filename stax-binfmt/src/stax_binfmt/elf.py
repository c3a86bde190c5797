"""ELF files: the headers, notes, build id and sections every part of stax reads.

One reader for the tree.  Capture reads the build id of each mapping the kernel did not
report one for (:func:`read_build_id`: the program headers and PT_NOTE segments only, a
few hundred bytes per file); the unwinder reads ``.eh_frame``, ``.eh_frame_hdr``,
``.debug_frame`` and ``.gnu_debuglink``; stax-symbols reads the symbol tables and the
DWARF sections.  All of them go through :func:`read_headers` and :func:`section_data`.

Everything is ``struct`` over the gABI layouts (Elf32/64_Ehdr, _Phdr, _Shdr, _Nhdr,
_Chdr): nothing here needs more than the headers, and pyelftools builds an object per
section and parses hash tables on the way, milliseconds per file that a cold lookup of a
handful of addresses notices.  Counts and sizes read from the file are bounded, so a
damaged file costs a bounded read; every way it can be malformed ends in
:class:`ElfFormatError` (or OSError from the stream).
"""

from __future__ import annotations

import bisect
import os
import struct
import zlib
from collections.abc import Sequence
from typing import BinaryIO

import attrs

# e_ident (gABI "ELF Identification").
ELF_MAGIC = b"\x7fELF"
ELFCLASS32 = 1
ELFCLASS64 = 2
ELFDATA2LSB = 1
ELFDATA2MSB = 2
# e_machine (gABI "ELF Header"; the processor supplements).
EM_ARM = 40
EM_X86_64 = 62
EM_AARCH64 = 183
EM_RISCV = 243
# p_type, p_flags (gABI "Program Header").
PT_LOAD = 1
PT_NOTE = 4
PF_X = 0x1
# sh_type, sh_flags, special indexes (gABI "Sections").
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_NOTE = 7
SHT_NOBITS = 8
SHT_DYNSYM = 11
SHF_EXECINSTR = 0x4
SHF_COMPRESSED = 0x800
SHN_XINDEX = 0xFFFF
ELFCOMPRESS_ZLIB = 1
# Notes (gABI "Note Section"; the GNU build-id note).
NT_GNU_BUILD_ID = 3
GNU_NOTE_NAME = b"GNU\0"

_MAX_PROGRAM_HEADERS = 4096
_MAX_SECTIONS = 1 << 16
_MAX_ENTRY_SIZE = 256
"""Far more than any real file has; a damaged count must not make us read gigabytes."""
_MAX_NOTE_BYTES = 1 << 16
_MAX_FIRST_BUFFER = 1 << 28


class ElfFormatError(ValueError):
    """The bytes are not ELF, or a header or section is damaged; ``str()`` says what, briefly."""


@attrs.frozen(slots=True)
class ElfHeader:
    """The Elf32/64_Ehdr fields the readers use."""

    is64: bool
    little_endian: bool
    machine: int
    phoff: int
    phentsize: int
    phnum: int
    shoff: int
    shentsize: int
    shnum: int
    shstrndx: int

    @property
    def order(self) -> str:
        """The ``struct`` byte-order prefix of this file."""
        return "<" if self.little_endian else ">"

    @property
    def elf_class(self) -> int:
        """32 or 64."""
        return 64 if self.is64 else 32


@attrs.frozen(slots=True)
class ProgramHeader:
    """One Elf_Phdr."""

    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int
    align: int


@attrs.frozen(slots=True)
class Section:
    """One Elf_Shdr, with its name from the section name table."""

    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    addralign: int
    entsize: int

    @property
    def executable(self) -> bool:
        return bool(self.flags & SHF_EXECINSTR)

    @property
    def has_contents(self) -> bool:
        """Bytes in the file (not a NOBITS stub, as in a debug file's copy of .text)."""
        return self.type != SHT_NOBITS and self.size > 0


def read_header(stream: BinaryIO) -> ElfHeader:
    """The ELF header at the start of ``stream`` (raises ElfFormatError, OSError)."""
    stream.seek(0)
    ident = stream.read(64)
    if len(ident) < 52 or ident[:4] != ELF_MAGIC:
        raise ElfFormatError("not an ELF file")
    elf_class, data_encoding = ident[4], ident[5]
    if elf_class not in (ELFCLASS32, ELFCLASS64) or data_encoding not in (ELFDATA2LSB, ELFDATA2MSB):
        raise ElfFormatError(f"unknown ELF class {elf_class} or data encoding {data_encoding}")
    is64 = elf_class == ELFCLASS64
    order = "<" if data_encoding == ELFDATA2LSB else ">"
    machine, = struct.unpack_from(order + "H", ident, 18)
    if is64:
        if len(ident) < 64:
            raise ElfFormatError("the ELF header is cut short")
        phoff, shoff = struct.unpack_from(order + "QQ", ident, 32)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(order + "HHHHH", ident, 54)
    else:
        phoff, shoff = struct.unpack_from(order + "II", ident, 28)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(order + "HHHHH", ident, 42)
    return ElfHeader(is64, order == "<", machine, phoff, phentsize, phnum, shoff, shentsize, shnum, shstrndx)


def program_headers(stream: BinaryIO, header: ElfHeader) -> list[ProgramHeader]:
    """The program header table (empty when the file has none)."""
    order = header.order
    if header.is64:
        entry = struct.Struct(order + "IIQQQQQQ")  # type, flags, offset, vaddr, paddr, filesz, memsz, align
    else:
        entry = struct.Struct(order + "IIIIIIII")  # type, offset, vaddr, paddr, filesz, memsz, flags, align
    if not header.phoff or header.phnum == 0:
        return []
    if header.phnum > _MAX_PROGRAM_HEADERS or not entry.size <= header.phentsize <= _MAX_ENTRY_SIZE:
        raise ElfFormatError(f"{header.phnum} program headers of {header.phentsize} bytes")
    if header.phoff >= stream.seek(0, os.SEEK_END):
        raise ElfFormatError("the program header table is past the end of the file")
    stream.seek(header.phoff)
    table = stream.read(header.phentsize * header.phnum)
    out = []
    for i in range(len(table) // header.phentsize):
        fields = entry.unpack_from(table, i * header.phentsize)
        if header.is64:
            ptype, flags, offset, vaddr, _, filesz, memsz, align = fields
        else:
            ptype, offset, vaddr, _, filesz, memsz, flags, align = fields
        out.append(ProgramHeader(ptype, flags, offset, vaddr, filesz, memsz, align))
    return out


def section_headers(stream: BinaryIO, header: ElfHeader) -> list[Section]:
    """The section header table with names (empty when the file has none)."""
    order = header.order
    if header.is64:
        entry = struct.Struct(order + "IIQQQQIIQQ")
    else:
        entry = struct.Struct(order + "IIIIIIIIII")
    if header.shoff == 0:
        return []
    entsize = header.shentsize
    if not entry.size <= entsize <= _MAX_ENTRY_SIZE:
        raise ElfFormatError(f"section headers of {entsize} bytes")
    if header.shoff >= stream.seek(0, os.SEEK_END):
        raise ElfFormatError("the section header table runs past the end of the file")
    stream.seek(header.shoff)
    first = stream.read(entsize)
    if len(first) < entry.size:
        raise ElfFormatError("the section header table runs past the end of the file")
    # More than 0xff00 sections, or a names index past it, live in section 0's size and link.
    _, _, _, _, _, size0, link0, _, _, _ = entry.unpack_from(first)
    count = header.shnum or size0
    names_index = link0 if header.shstrndx == SHN_XINDEX else header.shstrndx
    if count == 0:
        return []
    if count > _MAX_SECTIONS:
        raise ElfFormatError(f"{count} sections")
    table = first + stream.read(entsize * (count - 1))
    if len(table) < entsize * count:
        raise ElfFormatError("the section header table runs past the end of the file")
    raw = [entry.unpack_from(table, i * entsize) for i in range(count)]
    if not 0 < names_index < count:
        raise ElfFormatError("no section name table")
    file_size = stream.seek(0, os.SEEK_END)
    _, names_type, _, _, names_offset, names_size, _, _, _, _ = raw[names_index]
    if names_type == SHT_NOBITS or names_offset + names_size > file_size:
        raise ElfFormatError("the section name table runs past the end of the file")
    stream.seek(names_offset)
    names = stream.read(names_size)
    out = []
    for name, kind, flags, addr, offset, size, link, _info, align, entry_size in raw:
        end = names.find(b"\0", name)
        text = names[name : end if end >= 0 else len(names)].decode("utf-8", "replace")
        out.append(Section(text, kind, flags, addr, offset, size, link, align, entry_size))
    return out


def section_data(stream: BinaryIO, header: ElfHeader, section: Section) -> bytes:
    """The contents of ``section``, inflated if it is SHF_COMPRESSED; ``b""`` for NOBITS."""
    if section.type == SHT_NOBITS:
        return b""
    if section.offset + section.size > stream.seek(0, os.SEEK_END):
        raise ElfFormatError(f"section {section.name} runs past the end of the file")
    stream.seek(section.offset)
    data = stream.read(section.size)
    if len(data) < section.size:
        raise ElfFormatError(f"section {section.name} runs past the end of the file")
    if not section.flags & SHF_COMPRESSED:
        return data
    # Elf64_Chdr: ch_type, ch_reserved, ch_size, ch_addralign; Elf32_Chdr: type, size, align.
    chdr = struct.Struct(header.order + ("IIQQ" if header.is64 else "III"))
    if len(data) < chdr.size:
        raise ElfFormatError(f"section {section.name} is too short for its compression header")
    fields = chdr.unpack_from(data)
    kind, size = fields[0], fields[2] if header.is64 else fields[1]
    if kind != ELFCOMPRESS_ZLIB:
        raise ElfFormatError(f"section {section.name} is compressed with method {kind}, not zlib")
    # One buffer of the announced size, so zlib never grows it (a damaged header that
    # announces too much only costs a bounded first allocation).
    try:
        out = zlib.decompress(memoryview(data)[chdr.size :], bufsize=min(max(size, 1), _MAX_FIRST_BUFFER))
    except zlib.error as exc:
        raise ElfFormatError(f"section {section.name} does not inflate ({exc})") from None
    if len(out) != size:
        raise ElfFormatError(f"section {section.name} inflates to {len(out)} bytes, not {size}")
    return out


def build_id_from_notes(data: bytes, align: int, little_endian: bool) -> bytes | None:
    """Find the NT_GNU_BUILD_ID note in a note segment/section (gABI "Note Section").

    Each note is namesz, descsz, type (4-byte words), then name and desc, each padded to the
    note alignment: 4 normally, 8 for segments aligned to 8 (e.g. .note.gnu.property).
    """
    pad = 8 if align == 8 else 4
    word = struct.Struct("<III" if little_endian else ">III")
    pos = 0
    while pos + word.size <= len(data):
        namesz, descsz, note_type = word.unpack_from(data, pos)
        pos += word.size
        name = data[pos : pos + namesz]
        pos += -(-namesz // pad) * pad
        desc = data[pos : pos + descsz]
        pos += -(-descsz // pad) * pad
        if note_type == NT_GNU_BUILD_ID and name == GNU_NOTE_NAME and desc:
            return bytes(desc)
    return None


def _segment_build_id(stream: BinaryIO, header: ElfHeader, segments: Sequence[ProgramHeader]) -> bytes | None:
    size = stream.seek(0, os.SEEK_END)
    for segment in segments:
        if segment.type == PT_NOTE and segment.offset < size:
            stream.seek(segment.offset)
            found = build_id_from_notes(stream.read(min(segment.filesz, _MAX_NOTE_BYTES)), segment.align,
                                        header.little_endian)
            if found is not None:
                return found
    return None


def read_build_id(path: str | os.PathLike[str]) -> bytes | None:
    """The build id of the ELF file at ``path`` from its PT_NOTE segments, or None (not ELF, no
    note, unreadable).  Reads a few hundred bytes: capture calls it for every mapping."""
    try:
        with open(path, "rb") as stream:
            header = read_header(stream)
            return _segment_build_id(stream, header, program_headers(stream, header))
    except (OSError, ElfFormatError, struct.error):
        return None


@attrs.frozen(slots=True)
class LoadSegment:
    """One PT_LOAD program header: file bytes [file_offset, +file_size) appear at vaddr."""

    file_offset: int
    file_size: int
    vaddr: int
    mem_size: int
    align: int
    executable: bool


@attrs.frozen(slots=True)
class LoadSegments:
    """Converts file offsets (what frames carry) into ELF virtual addresses (what symbols and
    unwind tables use), and back.

    The kernel maps segment bytes at ``load bias + p_vaddr`` from file offset ``p_offset``, so
    ``vaddr = offset - p_offset + p_vaddr`` for the segment holding that file offset.  This
    is the same for PIE, non-PIE and shared objects, whatever the load bias was.
    """

    segments: tuple[LoadSegment, ...]
    _starts: tuple[int, ...] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_starts", tuple(s.file_offset for s in self.segments))

    @classmethod
    def of(cls, segments: Sequence[LoadSegment]) -> LoadSegments:
        return cls(tuple(sorted(segments, key=lambda s: s.file_offset)))

    @classmethod
    def from_program_headers(cls, headers: Sequence[ProgramHeader]) -> LoadSegments:
        return cls.of([
            LoadSegment(h.offset, h.filesz, h.vaddr, h.memsz, h.align, bool(h.flags & PF_X))
            for h in headers if h.type == PT_LOAD
        ])

    def vaddr_for_offset(self, offset: int) -> int | None:
        """The virtual address of file offset ``offset``, or None if no PT_LOAD maps it."""
        index = bisect.bisect_right(self._starts, offset) - 1
        # Segments may share a page (an RW segment often starts mid-page right after RX), so
        # scan back a little: the last segment whose file range holds the offset wins.
        for i in range(index, max(index - 4, -1), -1):
            seg = self.segments[i]
            if seg.file_offset <= offset < seg.file_offset + seg.file_size:
                return offset - seg.file_offset + seg.vaddr
        # The mapping of a segment starts at its page-aligned offset, so bytes in the page
        # before p_offset are mapped too (at p_vaddr rounded down); name them the same way.
        for seg in self.segments:
            align = seg.align if seg.align > 1 else 1
            page_start = seg.file_offset - seg.file_offset % align
            if page_start <= offset < seg.file_offset:
                return offset - seg.file_offset + seg.vaddr
        return None

    def offset_for_vaddr(self, vaddr: int, length: int = 1) -> int | None:
        """The file offset holding the ``length`` bytes at virtual address ``vaddr`` (what
        ``stax symbolize`` turns an addr2line-style address into, and where an indirect
        pointer of ``.eh_frame`` is read), or None outside every PT_LOAD's file bytes."""
        for seg in self.segments:
            if seg.vaddr <= vaddr and vaddr + length <= seg.vaddr + seg.file_size:
                return vaddr - seg.vaddr + seg.file_offset
        return None


@attrs.frozen(slots=True)
class ElfHeaders:
    """The headers of one ELF file, read once: what every reader starts from."""

    header: ElfHeader
    program_headers: tuple[ProgramHeader, ...]
    sections: tuple[Section, ...]
    build_id: bytes | None
    """From the PT_NOTE segments, else from a SHT_NOTE section (objects without a PT_NOTE)."""

    @property
    def segments(self) -> LoadSegments:
        return LoadSegments.from_program_headers(self.program_headers)

    def section(self, name: str) -> Section | None:
        """The first section called ``name``, or None."""
        for section in self.sections:
            if section.name == name:
                return section
        return None


def read_headers(stream: BinaryIO) -> ElfHeaders:
    """ELF header, program and section headers, and the build id (raises ElfFormatError, OSError)."""
    try:
        header = read_header(stream)
        phdrs = program_headers(stream, header)
        sections = section_headers(stream, header)
        build_id = _segment_build_id(stream, header, phdrs)
        if build_id is None:
            for section in sections:
                if section.type == SHT_NOTE:
                    build_id = build_id_from_notes(section_data(stream, header, section)[:_MAX_NOTE_BYTES],
                                                   section.addralign, header.little_endian)
                    if build_id is not None:
                        break
    except struct.error as exc:
        raise ElfFormatError(str(exc)) from None
    return ElfHeaders(header, tuple(phdrs), tuple(sections), build_id)


def read_section(stream: BinaryIO, headers: ElfHeaders, name: str) -> tuple[bytes, int] | None:
    """The contents and address of the section called ``name``; None if it is missing or empty."""
    section = headers.section(name)
    if section is None or not section.has_contents:
        return None
    return section_data(stream, headers.header, section), section.addr
