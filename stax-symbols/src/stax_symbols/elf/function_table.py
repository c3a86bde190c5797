"""Build a :class:`SymbolTable` of functions from an ELF file's .symtab and .dynsym.

Which symbols count, and how far each reaches (the policy the README documents):

* STT_FUNC and STT_GNU_IFUNC symbols defined in an executable section; STT_NOTYPE only
  when it has a size (hand-written assembly sometimes omits the type, but a size shows it
  is a function, while an unsized NOTYPE is usually a local label).
* .symtab and .dynsym are merged: .symtab (complete, local functions too) is preferred,
  .dynsym fills in whatever .symtab lacks (a stripped file has only .dynsym).
* A sized symbol covers exactly ``[value, value + size)``.  An address past its end is
  *not* that symbol: it is padding, a PLT stub, or a local function that stripping
  removed, and naming it after the previous export would be a confident lie.  Such an
  address stays unresolved (shown as ``libfoo.so+0x1a2b``).
* Only a symbol without a size (assembly without ``.size``) reaches to the next symbol,
  or to the end of its section when it is the last one: nothing better fits there.
* Aliases at one address: sized before unsized, FUNC/IFUNC before NOTYPE, GLOBAL before
  WEAK before LOCAL, fewer leading underscores, then the shorter name (``malloc`` over
  ``__libc_malloc``), then alphabetical, so the choice is stable.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from stax_binfmt.elf import EM_ARM
from stax_symbols.elf.elf_file import ElfFile, RawSymbolSection
from stax_symbols.symbol_table import SymbolTable

# Symbol table entry fields (gABI "Symbol Table"): st_info = bind << 4 | type.
STT_NOTYPE = 0
STT_FUNC = 2
STT_GNU_IFUNC = 10
STB_LOCAL = 0
STB_GLOBAL = 1
STB_WEAK = 2
STB_GNU_UNIQUE = 10
SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00

_TYPE_RANK = {STT_FUNC: 0, STT_GNU_IFUNC: 0, STT_NOTYPE: 1}
_BIND_RANK = {STB_GLOBAL: 0, STB_GNU_UNIQUE: 0, STB_WEAK: 1, STB_LOCAL: 2}

# (name, value, size, info, shndx) in file order; the two classes lay fields out differently.
_ENTRY_64 = ("IBBHQQ", lambda e: (e[0], e[4], e[5], e[1], e[3]))
_ENTRY_32 = ("IIIBBH", lambda e: (e[0], e[1], e[2], e[3], e[5]))


def function_table(elf: ElfFile) -> SymbolTable:
    """The functions of ``elf`` by virtual address, following the module's policy."""
    exec_sections = {
        index: (section.addr, section.addr + section.size)
        for index, section in enumerate(elf.sections)
        if section.executable
    }
    thumb = elf.machine == EM_ARM  # bit 0 of an ARM function address marks Thumb code
    candidates: dict[int, list[tuple[tuple[int, int, int, int, int, str], int, str, int]]] = {}
    seen: set[tuple[int, str]] = set()
    for raw in elf.symbol_sections:
        for name_offset, value, size, info, shndx in _entries(elf, raw):
            sym_type = info & 0xF
            if sym_type not in _TYPE_RANK or shndx == SHN_UNDEF or shndx >= SHN_LORESERVE:
                continue
            if sym_type == STT_NOTYPE and size == 0:
                continue
            if shndx not in exec_sections:
                continue
            name = _name_at(raw.strings, name_offset)
            if not name:
                continue
            if thumb:
                value &= ~1
            if (value, name) in seen:  # the same symbol in .symtab and .dynsym
                continue
            seen.add((value, name))
            rank = (
                0 if size else 1,
                _TYPE_RANK[sym_type],
                _BIND_RANK.get(info >> 4, 3),
                len(name) - len(name.lstrip("_")),
                len(name),
                name,
            )
            candidates.setdefault(value, []).append((rank, size, name, shndx))

    starts = sorted(candidates)
    rows: list[tuple[int, int, str]] = []
    for position, start in enumerate(starts):
        _, size, name, shndx = min(candidates[start])
        if size:
            end = start + size
        else:
            section_end = exec_sections[shndx][1]
            next_start = starts[position + 1] if position + 1 < len(starts) else section_end
            end = min(next_start, section_end)
        rows.append((start, end, name))
    return SymbolTable(rows)


def _entries(elf: ElfFile, raw: RawSymbolSection) -> Iterator[tuple[int, int, int, int, int]]:
    fmt, reorder = _ENTRY_64 if elf.elf_class == 64 else _ENTRY_32
    entry = struct.Struct(("<" if elf.little_endian else ">") + fmt)
    if raw.entry_size < entry.size:
        return
    data = raw.entries
    if raw.entry_size != entry.size:  # padded entries: take each entry's leading fields
        count = len(data) // raw.entry_size
        data = b"".join(data[i * raw.entry_size : i * raw.entry_size + entry.size] for i in range(count))
    usable = len(data) - len(data) % entry.size
    for fields in entry.iter_unpack(memoryview(data)[:usable]):
        yield reorder(fields)


def _name_at(strings: bytes, offset: int) -> str:
    end = strings.find(b"\0", offset)
    if offset >= len(strings) or end < 0:
        return ""
    return strings[offset:end].decode("utf-8", "replace")
