"""The DWARF sections of a Mach-O file (a dSYM's DWARF file), for the one DWARF reader.

dsymutil writes the debug info of a linked image into ``__DWARF,__debug_info`` and friends.
Mach-O section names have 16 characters, so ``.debug_str_offsets`` is ``__debug_str_offs``.
The sections become the same :class:`~stax_symbols.dwarf_sections.DwarfSections` an ELF file
gives, so :class:`~stax_symbols.dwarf_resolver.DwarfResolver` answers for both unchanged.
"""

from __future__ import annotations

from stax_symbols.dwarf_sections import DwarfSections
from stax_symbols.macho.load_commands import MachoError
from stax_symbols.macho.macho_file import MachoSlice

_WANTED = {
    "__debug_info": "info",
    "__debug_abbrev": "abbrev",
    "__debug_str": "str",
    "__debug_line_str": "line_str",
    "__debug_line": "line",
    "__debug_ranges": "ranges",
    "__debug_rnglists": "rnglists",
    "__debug_addr": "addr",
    "__debug_str_offs": "str_offsets",
    "__debug_aranges": "aranges",
}
_S_ZEROFILL = 0x1


def has_debug_info(macho: MachoSlice) -> bool:
    """Whether the image carries DWARF DIEs (a non-empty ``__DWARF,__debug_info``)."""
    section = macho.image.section("__DWARF", "__debug_info")
    return section is not None and section.size > 0


def read_dwarf_sections(macho: MachoSlice) -> DwarfSections:
    """The DWARF sections of ``macho`` in memory (raises MachoError)."""
    found: dict[str, bytes] = {}
    for section in macho.image.sections():
        key = _WANTED.get(section.name)
        if key is None or section.segment != "__DWARF" or section.flags & 0xFF == _S_ZEROFILL:
            continue
        found[key] = macho.read(section.file_offset, section.size)
    if not found.get("info"):
        raise MachoError(f"{macho.path} has no __DWARF,__debug_info section")
    return DwarfSections(**found, little_endian=True, address_size=8)
