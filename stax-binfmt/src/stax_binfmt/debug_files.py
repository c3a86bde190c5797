"""``.gnu_debuglink``: the name and CRC32 of a stripped binary's separate debug file.

``objcopy --add-gnu-debuglink=foo.debug`` stores the file name (NUL-terminated, padded to
4 bytes) and the CRC32 of the debug file's contents (gdb manual, "Separate Debug Files").
gdb looks for that name beside the binary, in a ``.debug`` directory beside it, and under
each global debug directory followed by the binary's own directory; we do the same, and
take a candidate only if its CRC matches, so a stale debug file is never used.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence

import attrs
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile


@attrs.frozen(slots=True)
class DebugLink:
    """The contents of a .gnu_debuglink section."""

    name: str
    crc: int


def read_debuglink(path: str) -> DebugLink | None:
    """The debug link of the ELF file at ``path``, or None if it has none or cannot be read."""
    try:
        with open(path, "rb") as stream:
            elf = ELFFile(stream)
            section = elf.get_section_by_name(".gnu_debuglink")
            if section is None:
                return None
            data = section.data()
            little = elf.little_endian
    except (OSError, ELFError, ValueError):
        return None
    end = data.find(b"\0")
    if end <= 0:
        return None
    crc_at = (end + 4) & ~3  # the name, its NUL, then padding to a 4-byte boundary
    if crc_at + 4 > len(data):
        return None
    name = data[:end].decode("utf-8", "replace")
    if "/" in name:
        return None  # a bare file name by definition; a path here would escape the search dirs
    return DebugLink(name, int.from_bytes(data[crc_at : crc_at + 4], "little" if little else "big"))


def candidate_paths(binary_path: str, link: DebugLink, debug_roots: Sequence[str]) -> list[str]:
    """Where the linked file may be, in gdb's order."""
    directory = os.path.dirname(os.path.realpath(binary_path))
    paths = [os.path.join(directory, link.name), os.path.join(directory, ".debug", link.name)]
    for root in debug_roots:
        paths.append(os.path.join(root, directory.lstrip("/"), link.name))
    seen: set[str] = set()
    return [p for p in paths if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


def file_crc32(path: str) -> int:
    """CRC32 (the zlib/ISO-HDLC polynomial gdb uses) of the whole file at ``path``."""
    crc = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc & 0xFFFFFFFF
