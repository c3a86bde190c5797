"""A symbol source that serves one image kind, built only when an image of that kind needs names.

The Mach-O sources import macholib and their parsers (~30 ms); a Linux recording holds no
Mach-O image, so `stax record` on Linux never builds them.  The gate answers the
contract's questions for other kinds itself (no names, no cache token), which is what the
source would answer, and hands everything else to the source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from stax.contracts import CacheTokenSource, SymbolContext, SymbolInfo, SymbolSource

if TYPE_CHECKING:
    from stax.events import ImageKind
    from stax.stack_table import Image


class KindGatedSource:
    """``factory``'s source, for images of ``kind`` only; ``name`` and ``order`` are the source's own
    (tests/symbols/test_kind_gate.py checks they match)."""

    def __init__(self, factory: Callable[[], SymbolSource], kind: ImageKind, name: str, order: int) -> None:
        self._factory = factory
        self.kind = kind
        self.name = name
        self.order = order
        self._source: SymbolSource | None = None

    @property
    def built(self) -> bool:
        return self._source is not None

    def source(self) -> SymbolSource:
        if self._source is None:
            self._source = self._factory()
        return self._source

    def cache_token(self, image: Image, context: SymbolContext) -> str | None:
        if image.kind is not self.kind:
            return None
        source = self.source()
        return source.cache_token(image, context) if isinstance(source, CacheTokenSource) else None

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        if image.kind is not self.kind:
            return {}
        return self.source().symbolicate(image, offsets, context)
