"""The DWARF sections of one ELF file, read into memory once (decompressed when needed).

Debian's debug packages and ``objcopy --compress-debug-sections`` store .debug_* as
SHF_COMPRESSED (zlib) sections; :func:`stax_binfmt.elf.section_data` inflates them.  Only
the section headers are read besides (:mod:`stax_binfmt.elf`, ``struct`` over the gABI
layout, no per-section objects).  The DWARF itself is parsed by our own readers (see
:mod:`.forms` for why).
"""

from __future__ import annotations

from typing import BinaryIO

import attrs

from stax_binfmt.elf import (
    SHT_NOBITS,
    ElfFormatError,
    ElfHeader,
    Section,
    read_header,
    section_data,
    section_headers,
)
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


def has_debug_info(stream: BinaryIO) -> bool:
    """Whether the ELF file in ``stream`` carries DWARF DIEs (a .debug_info with contents, not a
    NOBITS stub); reads only the section headers (raises DwarfError, OSError)."""
    _, sections = _section_headers(stream)
    return any(s.name == ".debug_info" and s.has_contents for s in sections)


def read_dwarf_sections(stream: BinaryIO) -> DwarfSections:
    """Read the DWARF sections of the ELF file in ``stream`` (raises DwarfError, OSError)."""
    header, sections = _section_headers(stream)
    found: dict[str, bytes] = {}
    try:
        for section in sections:
            key = _WANTED.get(section.name)
            if key is not None and section.type != SHT_NOBITS:
                found[key] = section_data(stream, header, section)
    except ElfFormatError as exc:
        raise DwarfError(str(exc)) from None
    return DwarfSections(**found, little_endian=header.little_endian, address_size=8 if header.is64 else 4)


def _section_headers(stream: BinaryIO) -> tuple[ElfHeader, list[Section]]:
    try:
        header = read_header(stream)
        return header, section_headers(stream, header)
    except ElfFormatError as exc:
        raise DwarfError(str(exc)) from None
