"""Open an ELF object once and keep what symbol sources need: build id, PT_LOAD segments,
and the raw bytes of its symbol tables.

pyelftools parses the headers (ELF header, program and section headers, notes); the
symbol entries themselves are unpacked with :mod:`struct` in :mod:`.elf_symbol_table`,
because building pyelftools ``Symbol`` objects costs about a second for libpython.
Every way a file can be unreadable or malformed ends in :class:`ElfReadError`, whose
message is one sentence for the user.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Sequence
from typing import BinaryIO

import attrs
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

# ELF constants (System V ABI, "ELF Header", "Program Header", "Sections", "Note Section").
PT_LOAD = "PT_LOAD"
PT_NOTE = "PT_NOTE"
SHF_EXECINSTR = 0x4
NT_GNU_BUILD_ID = 3
GNU_NOTE_NAME = b"GNU\0"


class ElfReadError(Exception):
    """The file cannot serve symbols; ``str(err)`` is one sentence naming the file and why."""


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
    """Converts file offsets (what frames carry) into ELF virtual addresses (what symbols use).

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

    def offset_for_vaddr(self, vaddr: int) -> int | None:
        """The file offset holding virtual address ``vaddr`` (what ``stax symbolize`` turns an
        addr2line-style address into), or None outside every PT_LOAD's file bytes."""
        for seg in self.segments:
            if seg.vaddr <= vaddr < seg.vaddr + seg.file_size:
                return vaddr - seg.vaddr + seg.file_offset
        return None


@attrs.frozen(slots=True)
class SectionInfo:
    """The section header fields symbol reading needs."""

    name: str
    type: str
    flags: int
    addr: int
    size: int

    @property
    def executable(self) -> bool:
        return bool(self.flags & SHF_EXECINSTR)


@attrs.frozen(slots=True)
class RawSymbolSection:
    """A .symtab or .dynsym: its entries and the string table their names index."""

    name: str
    entries: bytes
    entry_size: int
    strings: bytes


@attrs.frozen(slots=True)
class ElfFile:
    """What stax-symbols reads from one ELF object, in a form that outlives the open file."""

    label: str
    """The path (or ``[vdso]``) used in warnings."""
    elf_class: int
    """32 or 64."""
    little_endian: bool
    machine: str
    """``e_machine`` as pyelftools names it, e.g. ``EM_X86_64``."""
    build_id: bytes | None
    segments: LoadSegments
    sections: tuple[SectionInfo, ...]
    symbol_sections: tuple[RawSymbolSection, ...]
    """.symtab first when present, then .dynsym."""


def read_elf(stream: BinaryIO, label: str) -> ElfFile:
    """Parse ``stream`` as ELF; raise :class:`ElfReadError` with one sentence if it is not one."""
    head = stream.read(4)
    stream.seek(0)
    if head != b"\x7fELF":
        raise ElfReadError(f"Cannot read symbols from {label}: it is not an ELF file.")
    try:
        elf = ELFFile(stream)
        segments = []
        build_id = None
        for segment in elf.iter_segments():
            header = segment.header
            if header.p_type == PT_LOAD:
                segments.append(
                    LoadSegment(
                        file_offset=header.p_offset,
                        file_size=header.p_filesz,
                        vaddr=header.p_vaddr,
                        mem_size=header.p_memsz,
                        align=header.p_align,
                        executable=bool(header.p_flags & 0x1),  # PF_X
                    )
                )
            elif header.p_type == PT_NOTE and build_id is None:
                build_id = build_id_from_notes(segment.data(), header.p_align, elf.little_endian)
        sections = []
        raw_sections: dict[str, RawSymbolSection] = {}
        for index, section in enumerate(elf.iter_sections()):
            header = section.header
            sections.append(
                SectionInfo(section.name, header.sh_type, header.sh_flags, header.sh_addr, header.sh_size)
            )
            if header.sh_type == "SHT_NOTE" and build_id is None:
                # Objects without a PT_NOTE (rare) may still carry a .note.gnu.build-id section.
                build_id = build_id_from_notes(section.data(), header.sh_addralign, elf.little_endian)
            if header.sh_type in ("SHT_SYMTAB", "SHT_DYNSYM") and index != 0:
                strings = elf.get_section(header.sh_link)
                raw_sections[section.name] = RawSymbolSection(
                    name=section.name,
                    entries=section.data(),
                    entry_size=header.sh_entsize,
                    strings=strings.data() if strings.header.sh_type == "SHT_STRTAB" else b"",
                )
        ordered = tuple(raw_sections[n] for n in (".symtab", ".dynsym") if n in raw_sections)
        return ElfFile(
            label=label,
            elf_class=elf.elfclass,
            little_endian=elf.little_endian,
            machine=elf["e_machine"],
            build_id=build_id,
            segments=LoadSegments.of(segments),
            sections=tuple(sections),
            symbol_sections=ordered,
        )
    except ElfReadError:
        raise
    except (ELFError, OSError, struct.error, ValueError) as exc:
        raise ElfReadError(_damaged(label, str(exc))) from None
    except Exception as exc:  # pyelftools raises assorted errors on hostile input
        raise ElfReadError(_damaged(label, type(exc).__name__)) from None


def _damaged(label: str, detail: str) -> str:
    return f"Cannot read symbols from {label}: it is a damaged ELF file ({detail}); reinstall its package."


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
