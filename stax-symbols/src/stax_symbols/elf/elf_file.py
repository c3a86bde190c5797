"""Open an ELF object once and keep what symbol sources need: build id, PT_LOAD segments,
section headers, and the raw bytes of its symbol tables.

The headers come from the one ELF reader, :mod:`stax_binfmt.elf`; the symbol entries
themselves are unpacked with :mod:`struct` in :mod:`.function_table`.  Every way a file
can be unreadable or malformed ends in :class:`ElfReadError`, whose message is one
sentence for the user.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

import attrs

from stax_binfmt.elf import (
    ELF_MAGIC,
    SHT_DYNSYM,
    SHT_STRTAB,
    SHT_SYMTAB,
    ElfFormatError,
    LoadSegments,
    Section,
    read_headers,
    section_data,
)


class ElfReadError(Exception):
    """The file cannot serve symbols; ``str(err)`` is one sentence naming the file and why."""


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
    machine: int
    """``e_machine``, e.g. ``stax_binfmt.elf.EM_X86_64``."""
    build_id: bytes | None
    segments: LoadSegments
    sections: tuple[Section, ...]
    symbol_sections: tuple[RawSymbolSection, ...]
    """.symtab first when present, then .dynsym."""


def read_elf(stream: BinaryIO, label: str) -> ElfFile:
    """Parse ``stream`` as ELF; raise :class:`ElfReadError` with one sentence if it is not one."""
    head = stream.read(4)
    stream.seek(0)
    if head != ELF_MAGIC:
        raise ElfReadError(f"Cannot read symbols from {label}: it is not an ELF file.")
    try:
        headers = read_headers(stream)
        sections = headers.sections
        raw_sections: dict[str, RawSymbolSection] = {}
        for index, section in enumerate(sections):
            if section.type in (SHT_SYMTAB, SHT_DYNSYM) and index != 0:
                if not 0 <= section.link < len(sections):
                    raise ElfFormatError(f"{section.name} links to a section that does not exist")
                strings = sections[section.link]
                raw_sections[section.name] = RawSymbolSection(
                    name=section.name,
                    entries=section_data(stream, headers.header, section),
                    entry_size=section.entsize,
                    strings=(section_data(stream, headers.header, strings)
                             if strings.type == SHT_STRTAB else b""),
                )
        ordered = tuple(raw_sections[n] for n in (".symtab", ".dynsym") if n in raw_sections)
        return ElfFile(
            label=label,
            elf_class=headers.header.elf_class,
            little_endian=headers.header.little_endian,
            machine=headers.header.machine,
            build_id=headers.build_id,
            segments=headers.segments,
            sections=sections,
            symbol_sections=ordered,
        )
    except (ElfFormatError, OSError, struct.error, ValueError) as exc:
        raise ElfReadError(_damaged(label, str(exc))) from None


def _damaged(label: str, detail: str) -> str:
    return f"Cannot read symbols from {label}: it is a damaged ELF file ({detail}); reinstall its package."
