"""An ELF object reduced to what answering lookups needs, and the lookup itself.

Shared by every source that names addresses from an ELF symbol table (files on disk, the
vDSO from memory, later separate debug files): parse once with :func:`load_elf`, keep the
small :class:`LoadedElf`, answer offsets with :meth:`LoadedElf.symbolicate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

import attrs

from stax.contracts import SymbolInfo
from stax_symbols.elf_file import LoadSegments, read_elf
from stax_symbols.elf_symbol_table import function_table
from stax_symbols.symbol_table import SymbolTable


@attrs.frozen(slots=True)
class LoadedElf:
    """Build id, PT_LOAD segments and function table of one ELF object."""

    label: str
    build_id: bytes | None
    segments: LoadSegments
    functions: SymbolTable
    machine: str = ""
    """``e_machine`` as pyelftools names it (``EM_X86_64``): the instruction set of its code."""

    def symbolicate(self, offsets: Sequence[int]) -> dict[int, Sequence[SymbolInfo]]:
        """Name file offsets: offset -> vaddr through PT_LOAD, then the function table."""
        out: dict[int, Sequence[SymbolInfo]] = {}
        vaddr_for_offset = self.segments.vaddr_for_offset
        lookup = self.functions.lookup
        for offset in offsets:
            vaddr = vaddr_for_offset(offset)
            if vaddr is None:
                continue
            hit = lookup(vaddr)
            if hit is not None:
                out[offset] = (SymbolInfo(function=hit[0], symbol_offset=hit[1]),)
        return out

    def build_id_mismatch(
        self, recorded: bytes | None, remedy: str = "reinstall the recorded version to name them"
    ) -> str | None:
        """A one-sentence warning if the recorded build id is not this object's, else None.

        A file replaced since recording (a package upgrade) would give confident wrong names,
        so the caller answers nothing for it.  No recorded id means nothing to check.
        """
        if recorded is None or recorded == self.build_id:
            return None
        found = self.build_id.hex() if self.build_id else "none"
        return (
            f"{self.label} is not the file that was recorded (build id {recorded.hex()} recorded,"
            f" {found} now), so its frames stay unresolved; {remedy}."
        )


def load_elf(stream: BinaryIO, label: str) -> LoadedElf:
    """Parse ``stream`` and build its function table (raises ``ElfReadError``)."""
    elf = read_elf(stream, label)
    return LoadedElf(label, elf.build_id, elf.segments, function_table(elf), elf.machine)
