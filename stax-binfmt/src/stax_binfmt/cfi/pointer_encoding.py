"""The DW_EH_PE pointer encodings of ``.eh_frame`` (LEB128 itself is :mod:`stax_binfmt.leb128`).

LSB 5.0 Core, §10.5 "DWARF Extensions"
(DWARF Exception Header Encoding): the low nibble says the format, the high
nibble what the value is relative to, and 0x80 that it is the address of the
real pointer.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from stax_binfmt.cfi.errors import UnwindTableError
from stax_binfmt.leb128 import read_sleb128, read_uleb128

# formats (low nibble)
DW_EH_PE_absptr = 0x00
DW_EH_PE_uleb128 = 0x01
DW_EH_PE_udata2 = 0x02
DW_EH_PE_udata4 = 0x03
DW_EH_PE_udata8 = 0x04
DW_EH_PE_sleb128 = 0x09
DW_EH_PE_sdata2 = 0x0A
DW_EH_PE_sdata4 = 0x0B
DW_EH_PE_sdata8 = 0x0C
# applications (high nibble, without the indirect bit)
DW_EH_PE_pcrel = 0x10
DW_EH_PE_textrel = 0x20
DW_EH_PE_datarel = 0x30
DW_EH_PE_funcrel = 0x40
DW_EH_PE_aligned = 0x50
DW_EH_PE_indirect = 0x80
DW_EH_PE_omit = 0xFF

MASK64 = (1 << 64) - 1

_FIXED = {
    DW_EH_PE_absptr: struct.Struct("<Q"),
    DW_EH_PE_udata2: struct.Struct("<H"),
    DW_EH_PE_udata4: struct.Struct("<I"),
    DW_EH_PE_udata8: struct.Struct("<Q"),
    DW_EH_PE_sdata2: struct.Struct("<h"),
    DW_EH_PE_sdata4: struct.Struct("<i"),
    DW_EH_PE_sdata8: struct.Struct("<q"),
}


def encoded_size(encoding: int) -> int | None:
    """Bytes a fixed-size encoded pointer occupies (None for LEB128 formats)."""
    fmt = _FIXED.get(encoding & 0x0F)
    return fmt.size if fmt is not None else None


def read_encoded_pointer(
    data: bytes,
    pos: int,
    encoding: int,
    *,
    section_address: int,
    data_base: int = 0,
    text_base: int = 0,
    func_base: int = 0,
    read_indirect: Callable[[int], int] | None = None,
) -> tuple[int, int]:
    """Read a DW_EH_PE-encoded pointer at ``pos`` of a section loaded at ``section_address``.

    ``pcrel`` values are relative to the address of the field itself, ``datarel`` to
    ``data_base`` (for ``.eh_frame_hdr``: the start of that section), ``textrel`` to
    ``text_base``, ``funcrel`` to ``func_base``.  ``indirect`` values are the address
    of the pointer, which ``read_indirect`` loads.  Returns (value, position after it).
    """
    if encoding == DW_EH_PE_omit:
        raise UnwindTableError("read of an omitted (DW_EH_PE_omit) pointer")
    application = encoding & 0x70
    if application == DW_EH_PE_aligned:
        pos = (pos + 7) & ~7
    field_address = section_address + pos
    fmt = encoding & 0x0F
    fixed = _FIXED.get(fmt)
    if fixed is not None:
        value = fixed.unpack_from(data, pos)[0]
        pos += fixed.size
    elif fmt == DW_EH_PE_uleb128:
        value, pos = read_uleb128(data, pos)
    elif fmt == DW_EH_PE_sleb128:
        value, pos = read_sleb128(data, pos)
    else:
        raise UnwindTableError(f"unknown pointer encoding format {encoding:#x}")
    if application == DW_EH_PE_pcrel:
        value += field_address
    elif application == DW_EH_PE_datarel:
        value += data_base
    elif application == DW_EH_PE_textrel:
        value += text_base
    elif application == DW_EH_PE_funcrel:
        value += func_base
    elif application not in (0, DW_EH_PE_aligned):
        raise UnwindTableError(f"unknown pointer encoding application {encoding:#x}")
    value &= MASK64
    if encoding & DW_EH_PE_indirect:
        if read_indirect is None:
            raise UnwindTableError("indirect pointer encoding with no memory to read")
        value = read_indirect(value)
    return value, pos
