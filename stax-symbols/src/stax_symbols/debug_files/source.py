"""The separate-debug-file source: the .symtab of a debug file found for a stripped image.

``strip`` removes the local functions from an image's symbol table; its separate debug
file (build-id path, debuglink or debuginfod, see :mod:`.locator`) keeps the
full .symtab even when it has no DWARF (``objcopy --only-keep-debug`` of a ``-g0`` build).
This names what the DWARF source could not, before the image's own .dynsym would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from stax.contracts import SymbolContext, SymbolInfo
from stax_symbols.debug_files.located_source import LocatedFilesSource
from stax_symbols.elf.elf_file import ElfReadError

if TYPE_CHECKING:
    from stax.stack_table import Image

DEBUG_FILE_SYMBOLS_ORDER = 200


class DebugFileSymbolSource(LocatedFilesSource):
    """Names ``ImageKind.ELF`` frames from the symbol table of the image's separate debug file."""

    name = "debug-file-symbols"
    order = DEBUG_FILE_SYMBOLS_ORDER

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        """Offsets -> vaddr through the image file's PT_LOAD, then the debug file's functions."""
        files = self.files_for(image, offsets, context)
        if files is None or files.symbols_file is None or files.image_file is None:
            return {}
        try:
            segments = self.elf_memo.load(files.image_file).segments
            functions = self.elf_memo.load(files.symbols_file).functions
        except ElfReadError as exc:
            context.warn(str(exc))
            return {}
        out: dict[int, Sequence[SymbolInfo]] = {}
        for offset in offsets:
            vaddr = segments.vaddr_for_offset(offset)
            hit = functions.lookup(vaddr) if vaddr is not None else None
            if hit is not None:
                out[offset] = (SymbolInfo(function=hit[0], symbol_offset=hit[1]),)
        return out
