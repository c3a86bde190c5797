"""Name every unique frame of a recording, once, through the symbol-source plugins.

Works per image on unique offsets (never per sample); consults the build-id cache
first; asks sources in order, the first answer per offset winning; writes names
into the ``frames`` and ``frame_inlines`` tables so the recording is self-contained.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from stax.cache_dirs import cache_dir, scratch_dir
from stax.contracts import CacheTokenSource, SymbolContext, SymbolInfo
from stax.symbol_cache import SymbolCache, image_cache_key

if TYPE_CHECKING:
    from stax.plugin_manager import StaxPlugins
    from stax.stack_table import FrameTable, Image, ImageTable


def symbolicate_frames(
    db: sqlite3.Connection,
    images: ImageTable,
    frames: FrameTable,
    plugins: StaxPlugins,
    options: Mapping[str, object],
) -> list[str]:
    """Resolve all frames in ``frames`` and store the names in ``db``; return warnings."""
    # return-address frames are looked up one byte earlier, inside the call instruction
    by_image: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for frame_id in range(len(frames)):
        by_image[frames.image_ids[frame_id]][frames.lookup_offset(frame_id)].append(frame_id)

    trusted = cache_dir()  # None: no directory of ours, so no names are kept across runs
    context = SymbolContext(cache_dir=trusted or scratch_dir(), options=dict(options))
    sources = plugins.symbol_sources()
    cache = SymbolCache(trusted)
    resolved_rows: list[tuple[str, int | None, str | None, int | None, int]] = []
    inline_rows: list[tuple[int, int, str, str | None, int | None]] = []
    try:
        for image_id, offsets_to_frames in by_image.items():
            image = images[image_id]
            wanted = sorted(offsets_to_frames)
            results: dict[int, Sequence[SymbolInfo]] = {}
            use_cache = image.build_id is not None and image.pid is None
            if use_cache:
                key = image_cache_key(image.build_id, source_tokens(sources, image, context))
                hits, misses = cache.lookup(key, wanted)
                results.update(hits)
                wanted = [o for o in wanted if o not in hits and o not in misses]
            fresh: dict[int, Sequence[SymbolInfo]] = {}
            for source in sources:
                if not wanted:
                    break
                try:
                    answer = source.symbolicate(image, wanted, context)
                except Exception as exc:  # one broken source must not stop the others
                    context.warn(
                        f"Symbol source {source.name!r} failed on {image.path} ({exc});"
                        " its frames stay unresolved."
                    )
                    continue
                if answer:
                    fresh.update({o: chain for o, chain in answer.items() if chain})
                    wanted = [o for o in wanted if o not in fresh]
            results.update(fresh)
            if use_cache and (fresh or wanted):
                cache.store(key, fresh, wanted)
            for offset, chain in results.items():
                _rows_for(offsets_to_frames[offset], chain, resolved_rows, inline_rows, frames)
    finally:
        cache.close()
    db.executemany(
        "UPDATE frames SET function=?, symbol_offset=?, file=?, line=? WHERE id=?", resolved_rows
    )
    db.executemany("INSERT OR REPLACE INTO frame_inlines VALUES (?,?,?,?,?)", inline_rows)
    return context.warnings


def _rows_for(
    frame_ids: list[int],
    chain: Sequence[SymbolInfo],
    resolved_rows: list[tuple[str, int | None, str | None, int | None, int]],
    inline_rows: list[tuple[int, int, str, str | None, int | None]],
    frames: FrameTable,
) -> None:
    # chain is innermost first; the last entry is the real (outermost) function
    outer = chain[-1]
    for frame_id in frame_ids:
        symbol_offset = outer.symbol_offset
        if symbol_offset is not None and frames.is_return[frame_id]:
            symbol_offset += 1  # shown as the return address's own offset, as perf does
        resolved_rows.append((outer.function, symbol_offset, outer.file, outer.line, frame_id))
        for depth, info in enumerate(chain[:-1]):
            inline_rows.append((frame_id, depth, info.function, info.file, info.line))


def source_tokens(sources: Sequence[object], image: Image, context: SymbolContext) -> list[str]:
    """The ``cache_token`` for ``image`` of each source that has one (a :class:`CacheTokenSource`);
    the code cache (:mod:`stax.function_code_cache`) keys by the code sources' tokens the same way."""
    tokens = []
    for source in sources:
        if not isinstance(source, CacheTokenSource):
            continue
        try:
            token = source.cache_token(image, context)
        except Exception:  # a token is an optimisation hint; a broken one means "no cache"
            token = f"error:{id(source)}"
        if token:
            tokens.append(f"{source.name}={token}")
    return tokens
