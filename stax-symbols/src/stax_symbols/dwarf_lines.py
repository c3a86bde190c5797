"""File and line per address: one compile unit's .debug_line program, run once into sorted arrays.

The line program (DWARF 5, section 6.2) is a byte code that emits rows (address, file,
line, ...) in sequences.  We run it once per unit, keep the rows of all sequences sorted
by address in three parallel arrays, and answer an address by bisect: the last row at or
before it gives its line, unless that row ends a sequence.  Of several rows at one
address the last wins, as in binutils' addr2line.  Header layouts: 6.2.4 (versions 2-5,
including the v5 entry-format tables), opcodes 6.2.5, numbers 7.22.
"""

from __future__ import annotations

import bisect
import posixpath
from array import array
from collections.abc import Callable

from stax_symbols.dwarf_forms import (
    FORM_DATA1,
    FORM_DATA2,
    FORM_DATA4,
    FORM_DATA8,
    FORM_UDATA,
    DwarfError,
    Encoding,
    read_cstring,
    read_form,
    read_sleb,
    read_uleb,
)

# Standard opcodes (7.22, table 7.25).
_COPY = 1
_ADVANCE_PC = 2
_ADVANCE_LINE = 3
_SET_FILE = 4
_CONST_ADD_PC = 8
_FIXED_ADVANCE_PC = 9
# Extended opcodes (table 7.26).
_END_SEQUENCE = 1
_SET_ADDRESS = 2
_DEFINE_FILE = 3
# Entry-format content types (table 7.27).
_LNCT_PATH = 1
_LNCT_DIRECTORY_INDEX = 2

_END = -1
"""File index of a row that ends a sequence: addresses from it on have no line."""

StringOf = Callable[[int, object], "str | None"]
"""(form, raw value) -> string: resolves strp / line_strp / strx for the header tables."""


class LineTable:
    """The rows of one unit's line program, sorted by address, with its file names."""

    __slots__ = ("addresses", "files", "lines", "_paths", "_file_entries", "_directories", "_comp_dir")

    def __init__(
        self,
        addresses: array,
        files: array,
        lines: array,
        file_entries: list[tuple[str, int] | None],
        directories: list[str],
        comp_dir: str | None,
    ) -> None:
        self.addresses = addresses
        self.files = files
        self.lines = lines
        self._file_entries = file_entries
        self._directories = directories
        self._comp_dir = comp_dir
        self._paths: dict[int, str | None] = {}

    def lookup(self, address: int) -> tuple[str | None, int] | None:
        """(file path, line) of the row covering ``address``, or None outside every sequence."""
        index = bisect.bisect_right(self.addresses, address) - 1
        if index < 0:
            return None
        file = self.files[index]
        if file == _END:
            return None
        return self.file_path(file), self.lines[index]

    def rows_between(self, start: int, end: int) -> list[tuple[int, str | None, int]]:
        """(address, file path or None, line) of the rows that decide lines in [start, end).

        The first row is the one covering ``start`` (moved to ``start``); of several rows at
        one address only the last is kept, as :meth:`lookup` answers; a None path ends a
        sequence.
        """
        addresses = self.addresses
        first = max(bisect.bisect_right(addresses, start) - 1, 0)
        last = bisect.bisect_left(addresses, end)
        out: list[tuple[int, str | None, int]] = []
        for index in range(first, last):
            file = self.files[index]
            row = (max(addresses[index], start), None if file == _END else self.file_path(file),
                   self.lines[index])
            if out and out[-1][0] == row[0]:
                out[-1] = row
            else:
                out.append(row)
        return out

    def file_path(self, index: int) -> str | None:
        """The path of file ``index`` (as DW_AT_call_file and the rows number them).

        A relative name is joined to its directory, and a relative directory to the unit's
        DW_AT_comp_dir, which is how addr2line prints them.
        """
        if index in self._paths:
            return self._paths[index]
        path = None
        if 0 <= index < len(self._file_entries) and self._file_entries[index] is not None:
            name, dir_index = self._file_entries[index]  # type: ignore[misc]
            path = name
            if not name.startswith("/"):
                directory = self._directories[dir_index] if 0 <= dir_index < len(self._directories) else ""
                if directory.startswith("/"):
                    path = posixpath.join(directory, name)
                elif self._comp_dir:
                    path = posixpath.join(self._comp_dir, directory, name) if directory else \
                        posixpath.join(self._comp_dir, name)
                elif directory:
                    path = posixpath.join(directory, name)
        self._paths[index] = path
        return path


def read_line_table(
    data: bytes, offset: int, enc: Encoding, comp_dir: str | None, string_of: StringOf
) -> LineTable:
    """Run the line program at ``offset`` in .debug_line (raises :class:`DwarfError`)."""
    try:
        return _read(data, offset, enc, comp_dir, string_of)
    except (IndexError, ValueError, KeyError) as exc:
        raise DwarfError(f"damaged line program at .debug_line+{offset:#x} ({exc})") from None


def _read(data: bytes, offset: int, enc: Encoding, comp_dir: str | None, string_of: StringOf) -> LineTable:
    order = "little" if enc.little_endian else "big"
    pos = offset
    length = int.from_bytes(data[pos : pos + 4], order)
    pos += 4
    offset_size = 4
    if length == 0xFFFFFFFF:
        length = int.from_bytes(data[pos : pos + 8], order)
        pos += 8
        offset_size = 8
    end = pos + length
    if end > len(data):
        raise DwarfError(f"line program at .debug_line+{offset:#x} runs past the section")
    version = int.from_bytes(data[pos : pos + 2], order)
    pos += 2
    if not 2 <= version <= 5:
        raise DwarfError(f"unsupported line table version {version}")
    address_size = enc.address_size
    if version >= 5:
        address_size = data[pos]
        pos += 2  # address_size, segment_selector_size
    header_length = int.from_bytes(data[pos : pos + offset_size], order)
    pos += offset_size
    program = pos + header_length
    min_inst = data[pos]
    pos += 1
    if version >= 4:
        pos += 1  # maximum_operations_per_instruction: 1 outside VLIW targets
    # default_is_stmt (data[pos]) is not needed: rows are kept whatever is_stmt says.
    line_base = int.from_bytes(data[pos + 1 : pos + 2], order, signed=True)
    line_range = data[pos + 2]
    opcode_base = data[pos + 3]
    pos += 4
    standard_lengths = list(data[pos : pos + opcode_base - 1])
    pos += opcode_base - 1
    if line_range == 0:
        raise DwarfError("line table with line_range 0")

    header_enc = Encoding(offset_size, address_size, version, enc.little_endian)
    directories: list[str] = []
    file_entries: list[tuple[str, int] | None] = []
    if version >= 5:
        entries, pos = _v5_entries(data, pos, header_enc, string_of)
        directories.extend(name for name, _ in entries)
        entries, pos = _v5_entries(data, pos, header_enc, string_of)
        file_entries.extend(entries)
    else:
        directories.append(comp_dir or "")
        while data[pos] != 0:
            text = read_cstring(data, pos)
            pos += len(text.encode()) + 1
            directories.append(text)
        pos += 1
        file_entries.append(None)  # files count from 1 before DWARF 5
        while data[pos] != 0:
            name = read_cstring(data, pos)
            pos = data.index(b"\0", pos) + 1
            dir_index, pos = read_uleb(data, pos)
            _, pos = read_uleb(data, pos)
            _, pos = read_uleb(data, pos)
            file_entries.append((name, dir_index))

    # Special opcodes (6.2.5.1): precomputed address and line advances per opcode.
    address_step = [0] * 256
    line_step = [0] * 256
    for op in range(opcode_base, 256):
        adjusted = op - opcode_base
        address_step[op] = (adjusted // line_range) * min_inst
        line_step[op] = line_base + adjusted % line_range
    const_add_pc = address_step[255]

    addresses: list[int] = []
    files: list[int] = []
    lines: list[int] = []
    sequences: list[tuple[int, int]] = []
    add_address = addresses.append
    add_file = files.append
    add_line = lines.append

    address = 0
    file = 1
    line = 1
    seq_start = 0
    pos = program
    while pos < end:
        op = data[pos]
        pos += 1
        if op >= opcode_base:
            address += address_step[op]
            line += line_step[op]
            add_address(address)
            add_file(file)
            add_line(line)
        elif op == 0:
            size, pos = read_uleb(data, pos)
            sub = data[pos]
            if sub == _END_SEQUENCE:
                add_address(address)
                add_file(_END)
                add_line(0)
                sequences.append((seq_start, len(addresses)))
                seq_start = len(addresses)
                address = 0
                file = 1
                line = 1
            elif sub == _SET_ADDRESS:
                address = int.from_bytes(data[pos + 1 : pos + size], order)
            elif sub == _DEFINE_FILE:  # DWARF <= 4 only
                name = read_cstring(data, pos + 1)
                at = data.index(b"\0", pos + 1) + 1
                dir_index, _ = read_uleb(data, at)
                file_entries.append((name, dir_index))
            pos += size
        elif op == _COPY:
            add_address(address)
            add_file(file)
            add_line(line)
        elif op == _ADVANCE_PC:
            step, pos = read_uleb(data, pos)
            address += step * min_inst
        elif op == _ADVANCE_LINE:
            step, pos = read_sleb(data, pos)
            line += step
        elif op == _SET_FILE:
            file, pos = read_uleb(data, pos)
        elif op == _CONST_ADD_PC:
            address += const_add_pc
        elif op == _FIXED_ADVANCE_PC:
            address += int.from_bytes(data[pos : pos + 2], order)
            pos += 2
        else:
            # set_column, negate_stmt, basic_block, prologue_end, epilogue_begin, set_isa, and
            # opcodes from a newer standard: skip their ULEB operands as the header declares.
            for _ in range(standard_lengths[op - 1]):
                while data[pos] & 0x80:
                    pos += 1
                pos += 1

    # Sequences may come in any order; sort them by start (stable for equal starts).
    sequences.sort(key=lambda s: addresses[s[0]] if s[1] > s[0] else 0)
    out_addresses = array("Q")
    out_files = array("i")
    out_lines = array("I")
    for start, stop in sequences:
        if stop - start < 2 or addresses[start] == 0 == addresses[stop - 1]:
            continue  # empty, or code the linker discarded (left at address 0)
        out_addresses.extend(addresses[start:stop])
        out_files.extend(files[start:stop])
        out_lines.extend(lines[start:stop])
    return LineTable(out_addresses, out_files, out_lines, file_entries, directories, comp_dir)


def _v5_entries(
    data: bytes, pos: int, enc: Encoding, string_of: StringOf
) -> tuple[list[tuple[str, int]], int]:
    """A v5 directory or file-name table (6.2.4.1): a format list, then that many entries.

    Returns (path, directory index) per entry and the position after the table.
    """
    format_count = data[pos]
    pos += 1
    formats = []
    for _ in range(format_count):
        content, pos = read_uleb(data, pos)
        form, pos = read_uleb(data, pos)
        formats.append((content, form))
    count, pos = read_uleb(data, pos)
    entries = []
    for _ in range(count):
        name = ""
        dir_index = 0
        for content, form in formats:
            value, pos = read_form(form, data, pos, enc)
            if content == _LNCT_PATH:
                name = string_of(form, value) or ""
            elif content == _LNCT_DIRECTORY_INDEX and form in (FORM_UDATA, FORM_DATA1, FORM_DATA2,
                                                                FORM_DATA4, FORM_DATA8):
                dir_index = value  # type: ignore[assignment]
            # other content (timestamp, size, MD5, vendor data) is not needed
        entries.append((name, dir_index))
    return entries, pos
