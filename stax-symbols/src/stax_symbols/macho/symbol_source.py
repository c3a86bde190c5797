"""The Mach-O symbol-table source: names ``ImageKind.MACHO`` frames from ``nlist`` tables.

The image is the file at its recorded path (the slice with the recorded UUID; a file of
another build is refused in one sentence), or, when no such file exists (system dylibs on
macOS 11+ live only in the dyld shared cache), the dylib with that UUID in a shared cache
(:mod:`.cache_locator`), with its unmapped local symbols.  Frame offsets count from the
image's mach header (see :mod:`.loaded_image`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind
from stax_symbols.macho.cache_locator import CACHE_ENV, cache_paths
from stax_symbols.macho.image_uuid import mismatch, uuid_text
from stax_symbols.macho.load_commands import MachoError
from stax_symbols.macho.loaded_image import LoadedImage, load_image
from stax_symbols.macho.memo import PROCESS_CACHE_MEMO, PROCESS_MACHO_MEMO, MachoMemo, SharedCacheMemo

if TYPE_CHECKING:
    from stax.stack_table import Image

MACHO_SYMBOLS_ORDER = 305
"""The symbol-table band (300s), beside ELF's 300; the two serve disjoint image kinds."""
ARCH_OPTION = "arch"


class MachoImages:
    """Finds and memoizes the :class:`LoadedImage` of Mach-O images (file or shared cache)."""

    def __init__(self, files: MachoMemo | None = None, caches: SharedCacheMemo | None = None) -> None:
        self.files = files or PROCESS_MACHO_MEMO
        self.caches = caches or PROCESS_CACHE_MEMO
        self._loaded: dict[tuple[object, ...], tuple[LoadedImage | None, tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def load(self, image: Image, context: SymbolContext) -> LoadedImage | None:
        """The loaded image, or None with the reasons warned through ``context``."""
        caches = cache_paths(context.options)
        key = (image.path, image.build_id, context.options.get(ARCH_OPTION), tuple(caches))
        with self._lock:
            found = self._loaded.get(key)
        if found is None:
            found = self._find(image, context.options.get(ARCH_OPTION), caches)
            with self._lock:
                self._loaded[key] = found
        loaded, warnings = found
        for sentence in warnings:
            context.warn(sentence)
        return loaded

    def _find(
        self, image: Image, arch: object, caches: list[str]
    ) -> tuple[LoadedImage | None, tuple[str, ...]]:
        warnings: list[str] = []
        if os.path.exists(image.path):
            try:
                macho = self.files.load(image.path)
                chosen = (
                    macho.select(arch=str(arch) if arch else None)
                    if image.build_id is None
                    else next((s for s in macho.slices if s.image.uuid == image.build_id), None)
                )
                if chosen is not None:
                    return load_image(image.path, chosen.image, chosen.read), ()
                found = macho.slices[0].image.uuid if len(macho.slices) == 1 else None
                warnings.append(
                    mismatch(
                        image.path,
                        image.build_id,
                        found,
                        "the file that was recorded",
                        "reinstall the recorded version to name its frames",
                    )
                    or ""
                )
            except MachoError as exc:
                text = str(exc)
                if not text.startswith("Cannot"):
                    text = f"Cannot read symbols from {image.path}: {text}."
                warnings.append(text)
        if image.build_id is not None:
            for path in caches:
                try:
                    cache = self.caches.load(path)
                    cached = cache.image_by_uuid(image.build_id)  # type: ignore[attr-defined]
                    if cached is None:
                        continue
                    commands = cache.load_commands(cached)  # type: ignore[attr-defined]
                    try:
                        locals_ = cache.local_symbols(cached)  # type: ignore[attr-defined]
                    except MachoError as exc:  # exported names still answer
                        warnings.append(f"{exc}.")
                        locals_ = None

                    def read_linkedit(
                        offset: int, size: int, c: object = cache, i: object = commands
                    ) -> bytes:
                        return c.read_vm(i.linkedit_vmaddr(offset), size)  # type: ignore[attr-defined]

                    loaded = load_image(
                        f"{cached.path} in {path}", commands, read_linkedit, [locals_] if locals_ else []
                    )
                    return loaded, tuple(warnings)
                except MachoError as exc:
                    warnings.append(
                        f"Cannot read the dyld shared cache {path}: {exc}."
                        if not str(exc).startswith("Cannot")
                        else str(exc)
                    )
        if not os.path.exists(image.path):
            where = (
                f"no dyld shared cache searched has UUID {uuid_text(image.build_id)}"
                if image.build_id
                else "no UUID was recorded to find it in the dyld shared cache"
            )
            warnings.append(
                f"Cannot read symbols from {image.path}: the file does not exist and {where};"
                f" name the cache with {CACHE_ENV}=PATH."
            )
        return None, tuple(w for w in warnings if w)

    def clear(self) -> None:
        with self._lock:
            self._loaded.clear()


PROCESS_MACHO_IMAGES = MachoImages()


class MachoSymbolSource:
    """Names ``ImageKind.MACHO`` frames from symbol tables (files or the dyld shared cache)."""

    name = "macho-symbols"
    order = MACHO_SYMBOLS_ORDER

    def __init__(self, images: MachoImages | None = None) -> None:
        self.images = images or PROCESS_MACHO_IMAGES

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        if image.kind is not ImageKind.MACHO or not offsets:
            return {}
        loaded = self.images.load(image, context)
        return loaded.symbolicate(offsets) if loaded is not None else {}
