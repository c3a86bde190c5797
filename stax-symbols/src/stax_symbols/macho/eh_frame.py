"""``__TEXT,__eh_frame`` of a Mach-O image: the FDEs that compact unwind defers to.

The bytes are the same DWARF CFI as ELF's ``.eh_frame`` (CIEs and FDEs, ``pcrel`` pointers
relative to the section's address), so they are read by the one CFI parser stax has,
:class:`stax_binfmt.cfi.parser.CfiSection`, which takes a section's bytes and address.

What the parser gives is architecture-neutral for CIEs, FDEs, pc ranges and the CFA rule of
each row.  Its row compiler keeps register rules for the x86-64 columns (0-16) and maps the
CIE's return-address column to column 16, so for arm64 the rows have the CFA and the
return-address rule but not the x19-x30 saves.
"""

from __future__ import annotations

import bisect

from stax_binfmt.cfi.parser import CfiSection, Fde
from stax_symbols.macho.load_commands import MachoError


class EhFrame:
    """The FDEs of one ``__eh_frame`` section, found by pc or by section offset."""

    def __init__(self, data: bytes, address: int) -> None:
        self.section = CfiSection(data, address)
        try:
            fdes = sorted(self.section.iter_fdes(), key=lambda f: f.pc_begin)
        except Exception as exc:  # the parser raises UnwindTableError, IndexError, struct.error
            raise MachoError(f"the __eh_frame section is damaged ({exc})") from None
        self.fdes: list[Fde] = fdes
        self._starts = [f.pc_begin for f in fdes]

    def fde_at(self, offset: int) -> Fde:
        """The FDE at ``__eh_frame + offset`` (what a DWARF-mode compact encoding names)."""
        try:
            return self.section.fde_at(offset)
        except Exception as exc:
            raise MachoError(f"no FDE at __eh_frame+{offset:#x} ({exc})") from None

    def fde_for(self, address: int) -> Fde | None:
        """The FDE whose range holds ``address``, or None."""
        at = bisect.bisect_right(self._starts, address) - 1
        if at >= 0 and address < self.fdes[at].pc_end:
            return self.fdes[at]
        return None
