"""A Mach-O image reduced to what answering lookups needs: its load commands and function
table, whether it came from a file on disk or from the dyld shared cache.

Frames of a Mach-O image carry offsets from the image's mach header (the start of
``__TEXT``), which is what an address minus the image's load address gives on macOS; the
linked (unslid) address of an offset is ``__TEXT``'s vmaddr plus the offset.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from stax.contracts import SymbolInfo
from stax_symbols.macho.function_table import function_starts, function_table
from stax_symbols.macho.load_commands import MachImage, MachoError
from stax_symbols.symbol_table import SymbolTable


@attrs.frozen(slots=True)
class LoadedImage:
    label: str
    image: MachImage
    functions: SymbolTable

    @property
    def uuid(self) -> bytes | None:
        return self.image.uuid

    def symbolicate(self, offsets: Sequence[int]) -> dict[int, Sequence[SymbolInfo]]:
        """Name image offsets from the function table."""
        base = self.image.text_vmaddr
        lookup = self.functions.lookup
        out: dict[int, Sequence[SymbolInfo]] = {}
        for offset in offsets:
            hit = lookup(base + offset)
            if hit is not None:
                out[offset] = (SymbolInfo(function=hit[0], symbol_offset=hit[1]),)
        return out


def load_image(
    label: str,
    image: MachImage,
    read_linkedit: Callable[[int, int], bytes],
    extra_symbols: Sequence[tuple[bytes, bytes]] = (),
) -> LoadedImage:
    """Build the function table of ``image``; ``read_linkedit(offset, size)`` reads the bytes
    a load command's file offset names (raises MachoError)."""
    tables = list(extra_symbols)
    if image.symtab is not None and image.symtab.symbol_count:
        symtab = image.symtab
        if symtab.symbol_count > 1 << 26 or symtab.string_size > 1 << 30:
            raise MachoError(f"{label} claims {symtab.symbol_count} symbols")
        entries = read_linkedit(symtab.symbol_offset, symtab.symbol_count * 16)
        strings = read_linkedit(symtab.string_offset, symtab.string_size)
        tables.insert(0, (entries, strings))
    starts: list[int] = []
    if image.function_starts is not None and image.function_starts.size:
        data = read_linkedit(image.function_starts.offset, image.function_starts.size)
        starts = function_starts(data, image.text_vmaddr)
    return LoadedImage(label, image, function_table(image.sections(), tables, starts))
