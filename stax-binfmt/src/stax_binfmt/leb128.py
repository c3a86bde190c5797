"""LEB128: the variable-length integers of DWARF (debug info, line programs, CFI).

DWARF 5 §7.6.  Each byte carries 7 bits, least significant group first; a set high bit
means another byte follows; a signed number is sign-extended from bit 6 of its last byte.
Every reader returns (value, position after the number) so callers walk a buffer without
slicing it.
"""

from __future__ import annotations


def read_uleb128(data: bytes, pos: int) -> tuple[int, int]:
    """Decode an unsigned LEB128 at ``pos``; return (value, position after it)."""
    byte = data[pos]
    pos += 1
    if byte < 0x80:
        return byte, pos
    result = byte & 0x7F
    shift = 7
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def read_sleb128(data: bytes, pos: int) -> tuple[int, int]:
    """Decode a signed LEB128 at ``pos``; return (value, position after it)."""
    result = 0
    shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if byte & 0x40:
                result -= 1 << shift
            return result, pos


def skip_leb128(data: bytes, pos: int) -> int:
    """The position after the LEB128 number (signed or not) at ``pos``."""
    while data[pos] & 0x80:
        pos += 1
    return pos + 1
