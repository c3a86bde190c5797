"""Finding the FDE that covers a pc: ``.eh_frame_hdr``'s binary-search table, or a scan.

LSB 5.0 Core §10.6.2 ".eh_frame_hdr": version (1), eh_frame_ptr_enc, fde_count_enc,
table_enc, then eh_frame_ptr, fde_count and a table of (initial_location,
fde_address) pairs sorted by initial_location.  Linkers write the table as
``DW_EH_PE_datarel | DW_EH_PE_sdata4`` (0x3b), relative to the start of
``.eh_frame_hdr``; that case is decoded in one ``struct.iter_unpack``.

Without the header (``ld --no-eh-frame-hdr``, or ``.debug_frame`` from a separate
debug file) :meth:`FdeIndex.by_scanning` builds the same sorted table by walking
the section once.
"""

from __future__ import annotations

import bisect
import struct

from stax_binfmt.cfi.errors import UnwindTableError
from stax_binfmt.cfi.parser import CfiSection, Fde
from stax_binfmt.cfi.pointer_encoding import (
    DW_EH_PE_datarel,
    DW_EH_PE_omit,
    DW_EH_PE_sdata4,
    read_encoded_pointer,
)

EH_FRAME_HDR_VERSION = 1
_DATAREL_SDATA4 = DW_EH_PE_datarel | DW_EH_PE_sdata4


class FdeIndex:
    """Sorted FDE start addresses and where each FDE is in its section."""

    __slots__ = ("starts", "offsets", "section")

    def __init__(self, starts: list[int], offsets: list[int], section: CfiSection) -> None:
        self.starts = starts
        self.offsets = offsets
        self.section = section

    def __len__(self) -> int:
        return len(self.starts)

    @classmethod
    def from_eh_frame_hdr(cls, hdr: bytes, hdr_address: int, eh_frame: CfiSection) -> FdeIndex:
        """Read the header's search table; FDE addresses become offsets into ``eh_frame``."""
        if len(hdr) < 4:
            raise UnwindTableError(".eh_frame_hdr is too short")
        version, ptr_enc, count_enc, table_enc = hdr[0], hdr[1], hdr[2], hdr[3]
        if version != EH_FRAME_HDR_VERSION:
            raise UnwindTableError(f".eh_frame_hdr version {version} (expected 1)")
        pos = 4
        common = {"section_address": hdr_address, "data_base": hdr_address}
        eh_frame_ptr, pos = read_encoded_pointer(hdr, pos, ptr_enc, **common)
        if eh_frame_ptr != eh_frame.address:
            raise UnwindTableError(
                f".eh_frame_hdr points at {eh_frame_ptr:#x}, .eh_frame is at {eh_frame.address:#x}"
            )
        if count_enc == DW_EH_PE_omit or table_enc == DW_EH_PE_omit:
            raise UnwindTableError(".eh_frame_hdr has no search table")
        count, pos = read_encoded_pointer(hdr, pos, count_enc, **common)
        if table_enc == _DATAREL_SDATA4:
            end = pos + 8 * count
            if end > len(hdr):
                raise UnwindTableError(".eh_frame_hdr table runs past the section")
            delta = hdr_address - eh_frame.address
            starts: list[int] = []
            offsets: list[int] = []
            for location, address in struct.iter_unpack("<ii", hdr[pos:end]):
                starts.append(location + hdr_address)
                offsets.append(address + delta)
        else:
            starts = []
            offsets = []
            for _ in range(count):
                location, pos = read_encoded_pointer(hdr, pos, table_enc, **common)
                address, pos = read_encoded_pointer(hdr, pos, table_enc, **common)
                starts.append(location)
                offsets.append(address - eh_frame.address)
        if any(a > b for a, b in zip(starts, starts[1:], strict=False)):
            raise UnwindTableError(".eh_frame_hdr search table is not sorted")
        return cls(starts, offsets, eh_frame)

    @classmethod
    def by_scanning(cls, section: CfiSection) -> FdeIndex:
        """Walk every entry of ``.eh_frame``/``.debug_frame`` and sort the FDEs by start."""
        pairs = sorted((fde.pc_begin, fde.offset) for fde in section.iter_fdes())
        return cls([start for start, _ in pairs], [offset for _, offset in pairs], section)

    def find_fde(self, pc: int) -> Fde | None:
        """The FDE whose range holds ``pc`` (an ELF virtual address), if any."""
        index = bisect.bisect_right(self.starts, pc) - 1
        # FDEs may overlap or nest only in broken inputs; look back a little for safety
        while index >= 0:
            fde = self.section.fde_at(self.offsets[index])
            if fde.pc_begin <= pc < fde.pc_end:
                return fde
            if index == 0 or self.starts[index - 1] != self.starts[index]:
                return None
            index -= 1
        return None
