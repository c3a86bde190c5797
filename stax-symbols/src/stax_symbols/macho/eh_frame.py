"""``__TEXT,__eh_frame`` of a Mach-O image: the FDEs that compact unwind defers to.

The bytes are the same DWARF CFI as ELF's ``.eh_frame`` (CIEs and FDEs, ``pcrel`` pointers
relative to the section's address), so they are read by the one CFI parser stax has,
:class:`stax_backend_linux.unwind.cfi_parser.CfiSection`, which takes a section's bytes and
address.  That parser lives in the Linux backend, and stax-symbols must not depend on a
backend (``stax[macos]`` installs no Linux backend), so it is imported only when an
``__eh_frame`` is actually read; without it, :func:`read_eh_frame` says so in one sentence.
(The planned leaf library for binary formats is where the parser belongs; then this import
becomes an ordinary dependency.)

What the parser gives is architecture-neutral for CIEs, FDEs, pc ranges and the CFA rule of
each row.  Its row compiler keeps register rules for the x86-64 columns (0-16) and maps the
CIE's return-address column to column 16, so for arm64 the rows have the CFA and the
return-address rule but not the x19-x30 saves.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from stax_symbols.macho.load_commands import MachoError

if TYPE_CHECKING:
    from stax_backend_linux.unwind.cfi_parser import CfiSection, Fde


class EhFrame:
    """The FDEs of one ``__eh_frame`` section, found by pc or by section offset."""

    def __init__(self, data: bytes, address: int) -> None:
        section_type = _cfi_section_type()
        self.section: CfiSection = section_type(data, address)
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


def _cfi_section_type() -> type:
    try:
        from stax_backend_linux.unwind.cfi_parser import CfiSection
    except ImportError:
        raise MachoError(
            "Reading __eh_frame needs the CFI parser of stax-backend-linux, which is not installed;"
            " install it with: pip install stax-backend-linux"
        ) from None
    return CfiSection
