"""What the three file-based ELF sources share: the locator that finds an image's files.

The DWARF, debug-file and debuginfod sources each name ``ImageKind.ELF`` frames from
a different file the :class:`~stax_symbols.debug_files.locator.DebugFileLocator` finds
for the image (debug info, a separate .symtab, debuginfod's copy of the executable);
they share the locator and the parsed-ELF memo of the process unless a test gives its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from stax.contracts import SymbolContext
from stax.events import ImageKind
from stax_symbols.debug_files.locator import PROCESS_LOCATOR, DebugFileLocator, ImageFiles
from stax_symbols.elf.memo import PROCESS_MEMO, ElfMemo

if TYPE_CHECKING:
    from stax.stack_table import Image


class LocatedFilesSource:
    """Base of a symbol source that reads files the debug-file locator finds for an ELF image."""

    def __init__(self, locator: DebugFileLocator | None = None, elf_memo: ElfMemo | None = None) -> None:
        self.locator = locator or PROCESS_LOCATOR
        self.elf_memo = elf_memo or PROCESS_MEMO

    def files_for(self, image: Image, offsets: Sequence[int], context: SymbolContext) -> ImageFiles | None:
        """The image's files, or None when there is nothing for a file-based source to name."""
        if image.kind is not ImageKind.ELF or not offsets:
            return None
        return self.locator.locate(image, context)
