"""One Mach-O image's header and load commands: segments and sections, symbol table, UUID,
function starts, install name.

The header and every load command sit together right after the image's start (``<mach-o/loader.h>``),
so a caller hands over those bytes (from a file, a slice of a universal binary, or a dylib inside
the dyld shared cache) and gets a :class:`MachImage` back.  macholib's structure definitions
(``macholib.mach_o``) decode each command; this module only walks the list and keeps what
symbolication needs.  Only 64-bit images are read: every macOS that stax supports (13+) runs
64-bit code only.
"""

from __future__ import annotations

import struct

import attrs
from macholib import mach_o
from macholib.ptypes import sizeof

MH_MAGIC_64 = mach_o.MH_MAGIC_64
"""0xfeedfacf: a 64-bit image in this machine's byte order (we only see little-endian ones)."""
HEADER_SIZE = sizeof(mach_o.mach_header_64)
_LOAD_COMMAND_SIZE = sizeof(mach_o.load_command)
_SEGMENT_SIZE = sizeof(mach_o.segment_command_64)
_SECTION_SIZE = sizeof(mach_o.section_64)
_INSTRUCTION_SECTION = mach_o.S_ATTR_PURE_INSTRUCTIONS | mach_o.S_ATTR_SOME_INSTRUCTIONS
_MAX_COMMANDS_SIZE = 1 << 24
"""Far beyond any real image; a damaged size must not make us read gigabytes."""

# cputype -> arch name as Apple's tools spell it; subtypes that change the name (loader.h).
_CPU_SUBTYPE_MASK = 0x00FFFFFF
_CPU_SUBTYPE_ARM64E = 2
_CPU_SUBTYPE_X86_64_H = 8


class MachoError(Exception):
    """The bytes are not a usable Mach-O image; ``str(err)`` says why in a few words."""


@attrs.frozen(slots=True)
class Section:
    segment: str
    name: str
    address: int
    size: int
    file_offset: int
    """Where its bytes are, counted like the image's own offsets (0 for zero-fill sections)."""
    flags: int

    @property
    def has_instructions(self) -> bool:
        return bool(self.flags & _INSTRUCTION_SECTION)


@attrs.frozen(slots=True)
class Segment:
    name: str
    vmaddr: int
    vmsize: int
    file_offset: int
    file_size: int
    sections: tuple[Section, ...]


@attrs.frozen(slots=True)
class LinkeditRange:
    """A (file offset, size) pair of a load command pointing into __LINKEDIT."""

    offset: int
    size: int


@attrs.frozen(slots=True)
class SymtabCommand:
    symbol_offset: int
    symbol_count: int
    string_offset: int
    string_size: int


@attrs.frozen(slots=True)
class MachImage:
    """What the load commands of one image say; offsets are as written in the commands."""

    cputype: int
    cpusubtype: int
    filetype: int
    segments: tuple[Segment, ...]
    uuid: bytes | None
    symtab: SymtabCommand | None
    function_starts: LinkeditRange | None
    install_name: str | None

    @property
    def arch(self) -> str:
        return arch_name(self.cputype, self.cpusubtype)

    @property
    def text_vmaddr(self) -> int:
        """Where ``__TEXT`` (the mach header itself) is linked; image offsets count from here."""
        for segment in self.segments:
            if segment.name == "__TEXT":
                return segment.vmaddr
        raise MachoError("the image has no __TEXT segment")

    def segment(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)

    def section(self, segment: str, name: str) -> Section | None:
        for seg in self.segments:
            for section in seg.sections:
                if section.segment == segment and section.name == name:
                    return section
        return None

    def sections(self) -> list[Section]:
        return [section for seg in self.segments for section in seg.sections]

    def linkedit_vmaddr(self, file_offset: int) -> int:
        """The VM address of a __LINKEDIT file offset from a load command (symbol table,
        function starts).  In a standalone file that is just the offset in __LINKEDIT; in the
        dyld shared cache the offsets are the cache file's, and __LINKEDIT's own
        ``fileoff``/``vmaddr`` pair converts them the same way (dyld does the same)."""
        linkedit = self.segment("__LINKEDIT")
        if linkedit is None:
            raise MachoError("the image has no __LINKEDIT segment")
        return linkedit.vmaddr + file_offset - linkedit.file_offset


def arch_name(cputype: int, cpusubtype: int) -> str:
    """``arm64``, ``arm64e``, ``x86_64``, ``x86_64h``, ... (lower case, as lipo prints them)."""
    name = mach_o.CPU_TYPE_NAMES.get(cputype, f"cputype{cputype}").lower()
    subtype = cpusubtype & _CPU_SUBTYPE_MASK
    if name == "arm64" and subtype == _CPU_SUBTYPE_ARM64E:
        return "arm64e"
    if name == "x86_64" and subtype == _CPU_SUBTYPE_X86_64_H:
        return "x86_64h"
    return name


def commands_size(header: bytes) -> int:
    """How many bytes header + load commands take, from the first ``HEADER_SIZE`` bytes."""
    if len(header) < HEADER_SIZE:
        raise MachoError("the file is too short for a Mach-O header")
    (magic,) = struct.unpack_from("<I", header)
    if magic != MH_MAGIC_64:
        raise MachoError(_magic_problem(magic))
    (sizeofcmds,) = struct.unpack_from("<I", header, 20)
    if sizeofcmds > _MAX_COMMANDS_SIZE:
        raise MachoError(f"the header claims {sizeofcmds} bytes of load commands")
    return HEADER_SIZE + sizeofcmds


def parse_image(data: bytes) -> MachImage:
    """Decode the header and load commands at the start of ``data`` (raises MachoError)."""
    end = commands_size(data)
    if len(data) < end:
        raise MachoError("the load commands run past the end of the file")
    header = mach_o.mach_header_64.from_str(data[:HEADER_SIZE], _endian_="<")
    segments: list[Segment] = []
    uuid = symtab = function_starts = install_name = None
    pos = HEADER_SIZE
    for _ in range(header.ncmds):
        if pos + _LOAD_COMMAND_SIZE > end:
            raise MachoError("the load commands run past their declared size")
        command = mach_o.load_command.from_str(data[pos : pos + _LOAD_COMMAND_SIZE], _endian_="<")
        if command.cmdsize < _LOAD_COMMAND_SIZE or pos + command.cmdsize > end:
            raise MachoError(f"a load command of {command.cmdsize} bytes runs past the others")
        body = data[pos + _LOAD_COMMAND_SIZE : pos + command.cmdsize]
        kind = command.cmd
        if kind == mach_o.LC_SEGMENT_64:
            segments.append(_segment(body))
        elif kind == mach_o.LC_UUID:
            uuid = bytes(body[:16])
        elif kind == mach_o.LC_SYMTAB:
            raw = _struct(mach_o.symtab_command, body)
            symtab = SymtabCommand(raw.symoff, raw.nsyms, raw.stroff, raw.strsize)
        elif kind == mach_o.LC_FUNCTION_STARTS:
            raw = _struct(mach_o.linkedit_data_command, body)
            function_starts = LinkeditRange(raw.dataoff, raw.datasize)
        elif kind == mach_o.LC_ID_DYLIB:
            raw = _struct(mach_o.dylib_command, body)
            name_at = raw.name - _LOAD_COMMAND_SIZE
            install_name = body[name_at:].split(b"\0", 1)[0].decode("utf-8", "replace")
        pos += command.cmdsize
    if not any(segment.name == "__TEXT" for segment in segments):
        raise MachoError("it has no __TEXT segment")
    return MachImage(
        header.cputype,
        header.cpusubtype,
        header.filetype,
        tuple(segments),
        uuid,
        symtab,
        function_starts,
        install_name,
    )


def _struct(kind: type, body: bytes) -> object:
    size = sizeof(kind)
    if len(body) < size:
        raise MachoError(f"a {kind.__name__} is shorter than its structure")
    return kind.from_str(body[:size], _endian_="<")


def _segment(body: bytes) -> Segment:
    raw = _struct(mach_o.segment_command_64, body)
    name = _name(raw.segname)
    sections = []
    pos = _SEGMENT_SIZE
    for _ in range(raw.nsects):
        if pos + _SECTION_SIZE > len(body):
            raise MachoError(f"segment {name} lists more sections than its command holds")
        s = mach_o.section_64.from_str(body[pos : pos + _SECTION_SIZE], _endian_="<")
        sections.append(Section(_name(s.segname), _name(s.sectname), s.addr, s.size, s.offset, s.flags))
        pos += _SECTION_SIZE
    return Segment(name, raw.vmaddr, raw.vmsize, raw.fileoff, raw.filesize, tuple(sections))


def _name(raw: bytes) -> str:
    return bytes(raw).split(b"\0", 1)[0].decode("utf-8", "replace")


def _magic_problem(magic: int) -> str:
    if magic in (mach_o.MH_MAGIC, mach_o.MH_CIGAM):
        return "it is a 32-bit Mach-O image, which stax does not read"
    if magic == mach_o.MH_CIGAM_64:
        return "it is a big-endian Mach-O image, which stax does not read"
    return "it is not a Mach-O file"
