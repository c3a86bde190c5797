"""The module the ``stax`` entry point names: it implements ``stax_symbol_sources``.

It uses only the public contract (``stax.contracts.SymbolInfo``, ``SymbolContext``) and
needs no base class: the source satisfies ``stax.contracts.SymbolSource`` by its attributes.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import stax
from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind

if TYPE_CHECKING:
    from stax.stack_table import Image

Table = tuple[list[int], list[int], list[str]]


class SidecarNames:
    """Names offsets of an ELF image from ``<image path>.names`` (``START SIZE NAME``, hex)."""

    name = "sidecar-names"
    order = 50

    def __init__(self) -> None:
        self._tables: dict[str, Table | None] = {}

    def _table(self, path: str, context: SymbolContext) -> Table | None:
        if path not in self._tables:
            rows = []
            try:
                with open(path + ".names", encoding="utf-8") as f:
                    for number, line in enumerate(f, 1):
                        parts = line.split()
                        if not parts or parts[0].startswith("#"):
                            continue
                        try:
                            rows.append((int(parts[0], 16), int(parts[1], 16), parts[2]))
                        except (ValueError, IndexError):
                            context.warn(f"{path}.names line {number} is not 'START SIZE NAME';"
                                         " it was skipped.")
            except FileNotFoundError:
                self._tables[path] = None
                return None
            rows.sort()
            self._tables[path] = ([r[0] for r in rows], [r[0] + r[1] for r in rows], [r[2] for r in rows])
        return self._tables[path]

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        """Offsets inside a listed range get its name; everything else is left to other sources."""
        path = image.path
        if image.kind is not ImageKind.ELF or not os.path.isabs(path):
            return {}
        table = self._table(path, context)
        if table is None:
            return {}
        starts, ends, names = table
        out: dict[int, Sequence[SymbolInfo]] = {}
        for offset in offsets:
            i = bisect.bisect_right(starts, offset) - 1
            if i >= 0 and offset < ends[i]:
                out[offset] = (SymbolInfo(function=names[i], symbol_offset=offset - starts[i]),)
        return out


@stax.hookimpl
def stax_symbol_sources() -> list[SidecarNames]:
    return [_SOURCE]


_SOURCE = SidecarNames()
