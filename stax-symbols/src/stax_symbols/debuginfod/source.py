"""The debuginfod source: names frames of an image whose file is gone, from the server's copy.

When the file at the recorded path was deleted or replaced (an upgrade since recording),
the ELF source cannot name its frames; debuginfod's ``/buildid/<id>/executable`` is the
same object by build id.  (Debug info from debuginfod is used by the DWARF source, first
in order; this source only covers the symbol tables of the executable, last in order,
because it may need the network.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from stax.contracts import SymbolContext, SymbolInfo
from stax_symbols.debug_files.located_source import LocatedFilesSource
from stax_symbols.debug_files.locator import DELETED_SUFFIX
from stax_symbols.elf.elf_file import ElfReadError

if TYPE_CHECKING:
    from stax.stack_table import Image

DEBUGINFOD_ORDER = 400


class DebuginfodExecutableSource(LocatedFilesSource):
    """Names ``ImageKind.ELF`` frames from debuginfod's copy of an executable that is gone."""

    name = "debuginfod"
    order = DEBUGINFOD_ORDER

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        """Resolve offsets with the downloaded executable's .symtab/.dynsym; nothing otherwise."""
        if image.build_id is None:
            return {}
        files = self.files_for(image, offsets, context)
        on_disk = image.path.removesuffix(DELETED_SUFFIX)
        if files is None or files.image_file is None or files.image_file == on_disk:
            return {}  # the file on disk is the image: the ELF source has named what it can
        try:
            loaded = self.elf_memo.load(files.image_file)
        except ElfReadError as exc:
            context.warn(str(exc))
            return {}
        return loaded.symbolicate(offsets)
