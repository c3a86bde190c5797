"""The DWARF sections of one ELF file, read into memory once (decompressed when needed).

Debian's debug packages and ``objcopy --compress-debug-sections`` store .debug_* as
SHF_COMPRESSED (zlib) sections; pyelftools reads the section headers and decompresses,
the DWARF itself is parsed by our own readers (see :mod:`.dwarf_forms` for why).
"""

from __future__ import annotations

from typing import BinaryIO

import attrs
from elftools.elf.elffile import ELFFile

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
    little_endian: bool = True
    address_size: int = 8


def has_debug_info(elf: ELFFile) -> bool:
    """Whether ``elf`` carries DWARF DIEs (a .debug_info with contents, not a NOBITS stub)."""
    section = elf.get_section_by_name(".debug_info")
    return section is not None and section.header.sh_type != "SHT_NOBITS" and section.header.sh_size > 0


def read_dwarf_sections(stream: BinaryIO) -> DwarfSections:
    """Read the DWARF sections of the ELF file in ``stream`` (raises pyelftools/OS errors)."""
    elf = ELFFile(stream)
    found: dict[str, bytes] = {}
    for section in elf.iter_sections():
        key = _WANTED.get(section.name)
        if key is not None and section.header.sh_type != "SHT_NOBITS":
            found[key] = section.data()
    return DwarfSections(**found, little_endian=elf.little_endian, address_size=elf.elfclass // 8)
