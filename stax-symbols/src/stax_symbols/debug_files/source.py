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
from stax.events import ImageKind
from stax_symbols.debug_files.locator import PROCESS_LOCATOR, DebugFileLocator
from stax_symbols.elf.elf_file import ElfReadError
from stax_symbols.elf.memo import PROCESS_MEMO, ElfMemo

if TYPE_CHECKING:
    from stax.stack_table import Image

DEBUG_FILE_SYMBOLS_ORDER = 200


class DebugFileSymbolSource:
    """Names ``ImageKind.ELF`` frames from the symbol table of the image's separate debug file."""

    name = "debug-file-symbols"
    order = DEBUG_FILE_SYMBOLS_ORDER

    def __init__(self, locator: DebugFileLocator | None = None, elf_memo: ElfMemo | None = None) -> None:
        self.locator = locator or PROCESS_LOCATOR
        self.elf_memo = elf_memo or PROCESS_MEMO

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        """Offsets -> vaddr through the image file's PT_LOAD, then the debug file's functions."""
        if image.kind is not ImageKind.ELF or not offsets:
            return {}
        files = self.locator.locate(image, context)
        if files.symbols_file is None or files.image_file is None:
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
