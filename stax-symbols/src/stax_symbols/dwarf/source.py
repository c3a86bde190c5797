"""The DWARF source: function names, inline chains and file:line from debug info.

The debug info is wherever :mod:`stax_symbols.debug_files.locator` finds it (the image itself, a
build-id or debuglink file, or debuginfod): one resolver serves them all.  Offsets become
ELF virtual addresses through the PT_LOAD headers of the image file; a debug file's own
program headers describe no bytes, so they cannot do this.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind
from stax_symbols.debug_files.located_source import LocatedFilesSource
from stax_symbols.debug_files.locator import DebugFileLocator, debug_roots
from stax_symbols.dwarf.forms import DwarfError
from stax_symbols.dwarf.memo import PROCESS_DWARF_MEMO, DwarfMemo
from stax_symbols.elf.elf_file import ElfReadError
from stax_symbols.elf.memo import ElfMemo
from stax_symbols.symbol_table import SymbolTable

if TYPE_CHECKING:
    from stax.stack_table import Image

DWARF_ORDER = 100
"""First: the most precise answer (inlines, lines) wherever debug info exists."""


class DwarfSymbolSource(LocatedFilesSource):
    """Names ``ImageKind.ELF`` frames from DWARF, with inlined calls innermost first."""

    name = "dwarf"
    order = DWARF_ORDER

    def __init__(
        self,
        locator: DebugFileLocator | None = None,
        dwarf_memo: DwarfMemo | None = None,
        elf_memo: ElfMemo | None = None,
    ) -> None:
        super().__init__(locator, elf_memo)
        self.dwarf_memo = dwarf_memo or PROCESS_DWARF_MEMO

    def cache_token(self, image: Image, context: SymbolContext) -> str | None:
        """What debug info this source would read for ``image``, from a few stat calls.

        Core caches answers per build id and this token, so installing a ``-dbgsym``
        package, adding a debug dir or a debuginfod fetch succeeding later changes the
        token and the image is named again (with inlines and lines this time).  While
        debuginfod is on and has nothing cached for the image, the token changes daily,
        so answers made without it are retried.
        """
        if image.kind is not ImageKind.ELF or image.build_id is None:
            return None
        return debug_info_token(image, context, self.locator)

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        """Resolve file offsets through the image's debug info; nothing if it has none."""
        files = self.files_for(image, offsets, context)
        if files is None or files.dwarf_file is None or files.image_file is None:
            return {}
        try:
            segments = self.elf_memo.load(files.image_file).segments
            resolver = self.dwarf_memo.load(files.dwarf_file)
        except (ElfReadError, DwarfError) as exc:
            context.warn(str(exc))
            return {}
        tables: list[SymbolTable] | None = None
        out: dict[int, Sequence[SymbolInfo]] = {}
        vaddr_for_offset = segments.vaddr_for_offset
        locate = resolver.locate
        for offset in offsets:
            vaddr = vaddr_for_offset(offset)
            if vaddr is None:
                continue
            found = locate(vaddr)
            if found is None:
                continue
            if found.chain:
                out[offset] = found.chain
                continue
            # Line info but no function DIE (assembly, or a function whose DIE lacks its
            # range): name it from a symbol table, as addr2line does, and keep the line.
            if tables is None:
                tables = self._symbol_tables(files.symbols_file, files.dwarf_file, files.image_file)
            for table in tables:
                hit = table.lookup(vaddr)
                if hit is not None:
                    out[offset] = (SymbolInfo(hit[0], hit[1], found.file, found.line),)
                    break
        for problem in resolver.problems:
            context.warn(problem)
        return out

    def _symbol_tables(self, *paths: str | None) -> list[SymbolTable]:
        tables = []
        for path in dict.fromkeys(p for p in paths if p):
            try:
                tables.append(self.elf_memo.load(path).functions)
            except ElfReadError:
                continue
        return tables


def debug_info_token(image: Image, context: SymbolContext, locator: DebugFileLocator) -> str:
    """Identity of the debug files that could describe ``image`` (see ``cache_token``)."""
    hex_id = image.build_id.hex() if image.build_id else ""
    directory, _, base = image.path.rpartition("/")
    roots = debug_roots(context.options)
    candidates = [f"{root}/.build-id/{hex_id[:2]}/{hex_id[2:]}.debug" for root in roots]
    candidates += [f"{directory}/{base}.debug", f"{directory}/.debug/{base}.debug"]
    candidates += [f"{root}{directory}/{base}.debug" for root in roots]
    parts = []
    for path in candidates:
        try:
            stat = os.stat(path)
        except OSError:
            continue
        parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    client = locator.client(context)
    if client is not None:
        cached = client.cache_root / hex_id / "debuginfo"
        parts.append("debuginfod:cached" if cached.exists() else f"debuginfod:day{int(time.time() // 86400)}")
    return ";".join(parts) or "none"
