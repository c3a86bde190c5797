"""The Mach-O DWARF source: names, inline chains and file:line from an image's dSYM.

The dSYM is found by :mod:`.dsym_locator` and must carry the image's UUID (the recorded one,
else the UUID of the file at the image's path).  Its DWARF goes through the one DWARF
reader (:class:`~stax_symbols.dwarf_resolver.DwarfResolver`) exactly as an ELF debug file's
does; only the section table differs (:mod:`.dwarf_sections`).  A dSYM repeats the image's
segments, so the linked address of a frame offset is the dSYM's ``__TEXT`` vmaddr plus the
offset, even when the binary itself is gone (a system dylib inside the shared cache).

Not read: DWARF left in the object files that a binary's debug map (``N_OSO`` stabs) points
to when no dSYM was made; run ``dsymutil`` on the binary.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind
from stax_symbols.debug_file_locator import debug_roots
from stax_symbols.dwarf_forms import DwarfError
from stax_symbols.dwarf_resolver import DwarfResolver
from stax_symbols.macho.dsym_locator import find_dsym
from stax_symbols.macho.dwarf_sections import read_dwarf_sections
from stax_symbols.macho.load_commands import MachoError
from stax_symbols.macho.macho_file import MachoSlice
from stax_symbols.macho.symbol_source import ARCH_OPTION, PROCESS_MACHO_IMAGES, MachoImages

if TYPE_CHECKING:
    from stax.stack_table import Image

MACHO_DWARF_ORDER = 105
"""The DWARF band (100s), beside ELF's 100; the two serve disjoint image kinds."""
_MAX_RESOLVERS = 8


class MachoDwarfSource:
    """Names ``ImageKind.MACHO`` frames from dSYM DWARF, inlined calls innermost first."""

    name = "macho-dwarf"
    order = MACHO_DWARF_ORDER

    def __init__(self, images: MachoImages | None = None) -> None:
        self.images = images or PROCESS_MACHO_IMAGES
        self._resolvers: dict[tuple[str, int, bytes | None], DwarfResolver | str] = {}
        self._lock = threading.Lock()

    def cache_token(self, image: Image, context: SymbolContext) -> str | None:
        """The identity of the dSYM candidates (installing or rebuilding a dSYM renames)."""
        if image.kind is not ImageKind.MACHO or image.build_id is None:
            return None
        parts = []
        for path in [image.path + ".dSYM", *debug_roots(context.options)]:
            try:
                st = os.stat(path)
            except OSError:
                continue
            parts.append(f"{path}:{st.st_mtime_ns}")
        return ";".join(parts) or "none"

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        if image.kind is not ImageKind.MACHO or not offsets:
            return {}
        uuid = image.build_id or self._uuid_on_disk(image, context)
        if uuid is None:
            return {}
        search = find_dsym(image.path, uuid, context.options, debug_roots(context.options), self.images.files)
        if not self._binary_of_another_build(image, uuid):  # then the symbol-table source says so
            for sentence in search.warnings:
                context.warn(sentence)
        if search.found is None:
            return {}
        resolver = self._resolver(search.found)
        if isinstance(resolver, str):
            context.warn(resolver)
            return {}
        base = search.found.image.text_vmaddr
        out: dict[int, Sequence[SymbolInfo]] = {}
        table = None
        for offset in offsets:
            found = resolver.locate(base + offset)
            if found is None:
                continue
            if found.chain:
                out[offset] = found.chain
                continue
            # A line but no function DIE: name it from the symbol table, keep the line.
            if table is None:
                loaded = self.images.load(image, context)
                table = loaded.functions if loaded is not None else False
            hit = table.lookup(base + offset) if table else None
            if hit is not None:
                out[offset] = (SymbolInfo(hit[0], hit[1], found.file, found.line),)
        for problem in resolver.problems:
            context.warn(problem)
        return out

    def _binary_of_another_build(self, image: Image, uuid: bytes) -> bool:
        if not os.path.exists(image.path):
            return False
        try:
            return all(s.image.uuid != uuid for s in self.images.files.load(image.path).slices)
        except MachoError:
            return False

    def _uuid_on_disk(self, image: Image, context: SymbolContext) -> bytes | None:
        if not os.path.exists(image.path):
            return None
        try:
            arch = context.options.get(ARCH_OPTION)
            return self.images.files.load(image.path).select(arch=str(arch) if arch else None).image.uuid
        except MachoError:
            return None  # the symbol-table source says why

    def _resolver(self, dsym: MachoSlice) -> DwarfResolver | str:
        key = (dsym.path, dsym.base, dsym.image.uuid)
        with self._lock:
            resolver = self._resolvers.get(key)
        if resolver is None:
            try:
                resolver = DwarfResolver(read_dwarf_sections(dsym), dsym.path)
            except (MachoError, DwarfError, OSError, ValueError, IndexError, KeyError) as exc:
                resolver = (
                    f"The debug info in {dsym.path} is damaged ({exc});"
                    " its frames are named from symbol tables."
                )
            with self._lock:
                if len(self._resolvers) >= _MAX_RESOLVERS:
                    self._resolvers.pop(next(iter(self._resolvers)))
                self._resolvers[key] = resolver
        return resolver
