"""``__TEXT,__unwind_info``: Apple's compact unwind table, and what each encoding means.

Layout (``<mach-o/compact_unwind_encoding.h>``, libunwind's copy): a header
``{version=1, commonEncodingsArraySectionOffset, commonEncodingsArrayCount,
personalityArraySectionOffset, personalityArrayCount, indexSectionOffset, indexCount}``
(seven u32); the common encodings (u32 each); personalities (u32 image offsets of a pointer
to the personality routine); a first-level index of ``{functionOffset,
secondLevelPagesSectionOffset, lsdaIndexArraySectionOffset}`` whose last entry only marks
the end of the covered range; LSDA entries ``{functionOffset, lsdaOffset}``; and second-level
pages, either *regular* (kind 2: ``{kind u32, entryPageOffset u16, entryCount u16}`` then
``{functionOffset u32, encoding u32}`` entries) or *compressed* (kind 3: ``{kind,
entryPageOffset, entryCount, encodingsPageOffset, encodingsCount}`` (u32 + 4 x u16) then u32
entries of ``encoding index << 24 | offset from the index entry's functionOffset``; an index
below the common count picks a common encoding, the rest index the page's own encodings).
Function offsets count from the mach header (the start of ``__TEXT``).

An entry covers its function offset up to the next entry's.  The 32-bit encoding's top
bits are shared (``UNWIND_IS_NOT_FUNCTION_START``, ``UNWIND_HAS_LSDA``, personality index)
and the mode nibble (mask 0x0F000000) is per architecture; :func:`describe` decodes it for
arm64 and x86_64.  A DWARF-mode encoding carries the offset of the FDE in ``__eh_frame``
(:mod:`.eh_frame` reads it).
"""

from __future__ import annotations

import bisect
import struct

import attrs

from stax_symbols.macho.load_commands import MachoError

_HEADER = struct.Struct("<7I")
_INDEX = struct.Struct("<3I")
_PAIR = struct.Struct("<2I")
_REGULAR_PAGE = struct.Struct("<IHH")
_COMPRESSED_PAGE = struct.Struct("<IHHHH")
_U32 = struct.Struct("<I")
UNWIND_SECTION_VERSION = 1
UNWIND_SECOND_LEVEL_REGULAR = 2
UNWIND_SECOND_LEVEL_COMPRESSED = 3
_MAX_ENTRIES = 1 << 22

UNWIND_IS_NOT_FUNCTION_START = 0x80000000
UNWIND_HAS_LSDA = 0x40000000
UNWIND_PERSONALITY_MASK = 0x30000000
UNWIND_MODE_MASK = 0x0F000000
DWARF_SECTION_OFFSET_MASK = 0x00FFFFFF

# x86_64 modes and fields
X86_64_MODE_RBP_FRAME = 0x01000000
X86_64_MODE_STACK_IMMD = 0x02000000
X86_64_MODE_STACK_IND = 0x03000000
X86_64_MODE_DWARF = 0x04000000
_X86_64_REGISTERS = ("none", "rbx", "r12", "r13", "r14", "r15", "rbp")
# arm64 modes and fields
ARM64_MODE_FRAMELESS = 0x02000000
ARM64_MODE_DWARF = 0x03000000
ARM64_MODE_FRAME = 0x04000000
_ARM64_PAIRS = (
    (0x001, "x19/x20"),
    (0x002, "x21/x22"),
    (0x004, "x23/x24"),
    (0x008, "x25/x26"),
    (0x010, "x27/x28"),
    (0x100, "d8/d9"),
    (0x200, "d10/d11"),
    (0x400, "d12/d13"),
    (0x800, "d14/d15"),
)


@attrs.frozen(slots=True)
class UnwindEntry:
    """One second-level entry: from ``function_offset`` on, unwind as ``encoding`` says."""

    function_offset: int
    encoding: int


@attrs.frozen(slots=True)
class IndexEntry:
    function_offset: int
    page_offset: int
    lsda_offset: int


@attrs.frozen(slots=True)
class CompactUnwindTable:
    """Everything in one ``__unwind_info`` section, in file order."""

    common_encodings: tuple[int, ...]
    personalities: tuple[int, ...]
    index: tuple[IndexEntry, ...]
    lsdas: tuple[tuple[int, int], ...]
    """(function offset, LSDA offset) pairs."""
    entries: tuple[UnwindEntry, ...]
    end_offset: int
    """The first function offset past the covered range (the last index entry)."""
    _starts: tuple[int, ...] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_starts", tuple(e.function_offset for e in self.entries))

    def lookup(self, function_offset: int) -> UnwindEntry | None:
        """The entry covering image offset ``function_offset`` (None outside the table)."""
        if function_offset >= self.end_offset:
            return None
        at = bisect.bisect_right(self._starts, function_offset) - 1
        return self.entries[at] if at >= 0 else None


def read_unwind_info(data: bytes) -> CompactUnwindTable:
    """Decode a whole ``__unwind_info`` section (raises MachoError on damage)."""
    try:
        return _read(data)
    except (struct.error, IndexError) as exc:
        raise MachoError(f"the __unwind_info section is damaged ({exc})") from None


def _read(data: bytes) -> CompactUnwindTable:
    (version, common_at, common_count, personality_at, personality_count, index_at, index_count) = (
        _HEADER.unpack_from(data)
    )
    if version != UNWIND_SECTION_VERSION:
        raise MachoError(f"__unwind_info version {version} is not {UNWIND_SECTION_VERSION}")
    if max(common_count, personality_count, index_count) > _MAX_ENTRIES:
        raise MachoError("the __unwind_info header claims absurd counts")
    common = tuple(_U32.unpack_from(data, common_at + 4 * i)[0] for i in range(common_count))
    personalities = tuple(_U32.unpack_from(data, personality_at + 4 * i)[0] for i in range(personality_count))
    index = tuple(
        IndexEntry(*_INDEX.unpack_from(data, index_at + _INDEX.size * i)) for i in range(index_count)
    )
    if not index:
        return CompactUnwindTable(common, personalities, (), (), (), 0)
    # LSDA entries run from the first index entry's array to the last one's (the sentinel's).
    lsda_start, lsda_end = index[0].lsda_offset, index[-1].lsda_offset
    lsdas = tuple(_PAIR.unpack_from(data, at) for at in range(lsda_start, lsda_end, _PAIR.size))
    entries: list[UnwindEntry] = []
    for entry in index[:-1]:
        if entry.page_offset:
            entries.extend(_page(data, entry, common))
    return CompactUnwindTable(common, personalities, index, lsdas, tuple(entries), index[-1].function_offset)


def _page(data: bytes, entry: IndexEntry, common: tuple[int, ...]) -> list[UnwindEntry]:
    at = entry.page_offset
    (kind,) = _U32.unpack_from(data, at)
    if kind == UNWIND_SECOND_LEVEL_REGULAR:
        _, entries_at, count = _REGULAR_PAGE.unpack_from(data, at)
        return [UnwindEntry(*_PAIR.unpack_from(data, at + entries_at + _PAIR.size * i)) for i in range(count)]
    if kind == UNWIND_SECOND_LEVEL_COMPRESSED:
        _, entries_at, count, encodings_at, encodings_count = _COMPRESSED_PAGE.unpack_from(data, at)
        local = [_U32.unpack_from(data, at + encodings_at + 4 * i)[0] for i in range(encodings_count)]
        out = []
        for i in range(count):
            (word,) = _U32.unpack_from(data, at + entries_at + 4 * i)
            which = word >> 24
            encoding = common[which] if which < len(common) else local[which - len(common)]
            out.append(UnwindEntry(entry.function_offset + (word & 0x00FFFFFF), encoding))
        return out
    raise MachoError(f"unknown __unwind_info page kind {kind} at {at:#x}")


def is_dwarf_mode(arch: str, encoding: int) -> bool:
    """Whether ``encoding`` defers to an ``__eh_frame`` FDE (its low 24 bits are the FDE's offset)."""
    mode = encoding & UNWIND_MODE_MASK
    return mode == (ARM64_MODE_DWARF if arch.startswith("arm64") else X86_64_MODE_DWARF)


def describe(arch: str, encoding: int) -> str:
    """A short reading of ``encoding``: ``frame, saves x19/x20``, ``frameless, stack 32``,
    ``dwarf, FDE at __eh_frame+0x18``, ``none`` ..."""
    mode = encoding & UNWIND_MODE_MASK
    if encoding & ~(UNWIND_HAS_LSDA | UNWIND_PERSONALITY_MASK | UNWIND_IS_NOT_FUNCTION_START) == 0:
        text = "none"
    elif arch.startswith("arm64"):
        text = _describe_arm64(mode, encoding)
    elif arch.startswith("x86_64"):
        text = _describe_x86_64(mode, encoding)
    else:
        text = f"mode {mode >> 24:#x}"
    if encoding & UNWIND_HAS_LSDA:
        text += ", has LSDA"
    if encoding & UNWIND_PERSONALITY_MASK:
        text += f", personality {(encoding & UNWIND_PERSONALITY_MASK) >> 28}"
    return text


def _describe_arm64(mode: int, encoding: int) -> str:
    if mode == ARM64_MODE_FRAME:
        pairs = [name for bit, name in _ARM64_PAIRS if encoding & bit]
        return "frame" + (f", saves {' '.join(pairs)}" if pairs else "")
    if mode == ARM64_MODE_FRAMELESS:
        return f"frameless, stack {((encoding >> 12) & 0xFFF) * 16}"
    if mode == ARM64_MODE_DWARF:
        return f"dwarf, FDE at __eh_frame+{encoding & DWARF_SECTION_OFFSET_MASK:#x}"
    return f"mode {mode >> 24:#x}"


def _describe_x86_64(mode: int, encoding: int) -> str:
    if mode == X86_64_MODE_RBP_FRAME:
        registers = encoding & 0x7FFF
        saved = [_X86_64_REGISTERS[(registers >> (3 * i)) & 7] for i in range(5)]
        saved = [r for r in saved if r != "none"]
        offset = ((encoding >> 16) & 0xFF) * 8
        return "rbp frame" + (f", saves {' '.join(saved)} at rbp-{offset}" if saved else "")
    if mode == X86_64_MODE_STACK_IMMD:
        return f"frameless, stack {((encoding >> 16) & 0xFF) * 8}, {(encoding >> 10) & 7} registers"
    if mode == X86_64_MODE_STACK_IND:
        return f"frameless, stack size in the subq at function+{(encoding >> 16) & 0xFF:#x}"
    if mode == X86_64_MODE_DWARF:
        return f"dwarf, FDE at __eh_frame+{encoding & DWARF_SECTION_OFFSET_MASK:#x}"
    return f"mode {mode >> 24:#x}"
