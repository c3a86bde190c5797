"""The ELF symbol-table source: names frames of executables and shared libraries on disk.

It reads the file at the image's path as it is *now*, so it checks the file's build id
against the one recorded and answers nothing for a file that changed since.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind
from stax_symbols.elf.elf_file import ElfReadError
from stax_symbols.elf.memo import PROCESS_MEMO, ElfMemo

if TYPE_CHECKING:
    from stax.stack_table import Image

ELF_SYMBOLS_ORDER = 300
"""After DWARF (100s) and separate debug files (200s), before network sources (400s)."""

_DELETED_SUFFIX = " (deleted)"


class ElfSymbolSource:
    """Names ``ImageKind.ELF`` frames from .symtab/.dynsym of the file at ``image.path``."""

    name = "elf-symbols"
    order = ELF_SYMBOLS_ORDER

    def __init__(self, memo: ElfMemo | None = None) -> None:
        self.memo = memo or PROCESS_MEMO

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        """Resolve file offsets in ``image``; warn (one sentence) and answer nothing on failure."""
        if image.kind is not ImageKind.ELF or not offsets:
            return {}
        path = image.path
        # The kernel appends " (deleted)" to the path of a file unlinked while mapped (an
        # upgrade replaced it); the file now at the plain path is used only if its build id
        # proves it is the same object.
        if path.endswith(_DELETED_SUFFIX):
            path = path[: -len(_DELETED_SUFFIX)]
            if image.build_id is None:
                context.warn(
                    f"{path} was replaced or deleted while it was mapped and no build id was recorded,"
                    " so its frames stay unresolved."
                )
                return {}
        if not path.startswith("/") or path.startswith("/memfd:"):
            return {}  # anonymous or memfd code: not a file this source can open
        try:
            loaded = self.memo.load(path)
        except ElfReadError as exc:
            context.warn(str(exc))
            return {}
        mismatch = loaded.build_id_mismatch(image.build_id)
        if mismatch:
            context.warn(mismatch)
            return {}
        return loaded.symbolicate(offsets)
