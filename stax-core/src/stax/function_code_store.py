"""Keep the code of the functions that hold samples in the recording, within fixed bounds.

The last pass of ``stax record`` (after symbolication): every function with at least
one on-CPU self sample, or on the user part of a blocked stack, is read through the
code sources (``stax_code_sources``: bytes, line-table slice, inline ranges, names of
branch targets) and written to the code tables (:mod:`stax.recording.code_tables`),
so ``stax annotate`` works after the binary is rebuilt or deleted.

Bounds, so a recording stays small: a function larger than
:data:`MAX_FUNCTION_BYTES` keeps only its name and bounds (``too-large``); functions
are kept hottest first (on-CPU self samples, then blocked time) until
:data:`MAX_RECORDING_BYTES` of code are stored, the rest keep only name and bounds
(``over-budget``).  Kernel code is never read.  Answers are cached across runs by build
id (:mod:`stax.function_code_cache`), so a second recording of the same binaries opens no
debug info for them.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from stax.cache_dirs import work_dir
from stax.contracts import SymbolContext
from stax.events import ImageKind
from stax.function_code import CodeStatus, FunctionCode
from stax.function_code_cache import FunctionCodeCache
from stax.recording.code_tables import CodeTableWriter
from stax.symbol_cache import image_cache_key
from stax.symbolication import source_tokens

if TYPE_CHECKING:
    from stax.contracts import CodeSource
    from stax.plugin_manager import StaxPlugins
    from stax.stack_table import FrameTable, Image, ImageTable, StackTable

MAX_FUNCTION_BYTES = 128 * 1024
"""Larger functions keep name and bounds only (a hand-unrolled interpreter loop is ~100 KiB)."""
MAX_RECORDING_BYTES = 8 * 1024 * 1024
"""Code kept per recording, hottest functions first."""


@attrs.frozen(slots=True)
class CodeLimits:
    max_function_bytes: int
    max_recording_bytes: int

    @classmethod
    def default(cls) -> CodeLimits:
        return cls(MAX_FUNCTION_BYTES, MAX_RECORDING_BYTES)


@attrs.define(slots=True)
class CodeSummary:
    """What the pass kept, for the meta table (key ``code``)."""

    functions: int = 0
    bytes: int = 0
    too_large: int = 0
    over_budget: int = 0
    max_function_bytes: int = MAX_FUNCTION_BYTES
    max_recording_bytes: int = MAX_RECORDING_BYTES

    def as_meta(self) -> dict[str, int]:
        return attrs.asdict(self)


@attrs.define(slots=True)
class _Found:
    image_id: int
    function: FunctionCode
    samples: int = 0
    blocked_ns: int = 0


def store_function_code(
    db: sqlite3.Connection,
    images: ImageTable,
    frames: FrameTable,
    stacks: StackTable,
    plugins: StaxPlugins,
    options: Mapping[str, object],
    blocked_ns: Mapping[int, int],
    limits: CodeLimits | None = None,
) -> tuple[CodeSummary, list[str]]:
    """Read and store the code of every function with samples or blocked time; return the
    summary and warnings.  ``blocked_ns`` is the blocked (not preempted) ns per stack id."""
    limits = limits or CodeLimits.default()
    weights = _offset_weights(db, images, frames, stacks, blocked_ns)
    context = SymbolContext(cache_dir=work_dir(), options=dict(options))
    sources = plugins.code_sources()
    cache = FunctionCodeCache(context.cache_dir)
    found: list[_Found] = []
    try:
        for image_id, offsets in weights.items():
            functions = _functions(images[image_id], sorted(offsets), sources, cache, context,
                                   limits.max_function_bytes)
            for function in functions:
                entry = _Found(image_id, function)
                for offset, (samples, blocked_ns) in offsets.items():
                    if function.contains_offset(offset):
                        entry.samples += samples
                        entry.blocked_ns += blocked_ns
                found.append(entry)
    finally:
        cache.close()
    found.sort(key=lambda f: (-f.samples, -f.blocked_ns, f.function.name))
    summary = CodeSummary(max_function_bytes=limits.max_function_bytes,
                          max_recording_bytes=limits.max_recording_bytes)
    writer = CodeTableWriter(db)
    for entry in found:
        function = entry.function
        if function.code is None:
            summary.too_large += 1
        elif summary.bytes + len(function.code) > limits.max_recording_bytes:
            function = function.without_code(CodeStatus.OVER_BUDGET)
            summary.over_budget += 1
        else:
            summary.bytes += len(function.code)
            summary.functions += 1
        writer.write(entry.image_id, (function,))
    return summary, [w for w in context.warnings if w.startswith("Code source")]


def _functions(image: Image, wanted: list[int], sources: Sequence[CodeSource],
               cache: FunctionCodeCache, context: SymbolContext, max_bytes: int) -> list[FunctionCode]:
    """The functions holding ``wanted`` offsets of one image: cached, else from the sources."""
    out: list[FunctionCode] = []
    use_cache = image.build_id is not None and image.pid is None
    if use_cache:
        key = image_cache_key(image.build_id, [*source_tokens(sources, image, context),
                                               f"max_bytes={max_bytes}"])
        out, misses = cache.lookup(key, wanted)
        wanted = [o for o in wanted if o not in misses and not any(f.contains_offset(o) for f in out)]
    fresh: list[FunctionCode] = []
    for source in sources:
        if not wanted:
            break
        try:
            answer = source.function_code(image, wanted, context, max_bytes)
        except Exception as exc:  # one broken source must not stop the recording's end
            context.warn(f"Code source {source.name!r} failed on {image.path} ({exc}); annotate"
                         " reads those functions from the binary if it still matches.")
            continue
        for function in answer:
            if any(function.contains_offset(o) for o in wanted):
                fresh.append(function)
                wanted = [o for o in wanted if not function.contains_offset(o)]
    if use_cache and (fresh or wanted):
        cache.store(key, fresh, wanted)
    return out + fresh


def _offset_weights(
    db: sqlite3.Connection, images: ImageTable, frames: FrameTable, stacks: StackTable,
    blocked: Mapping[int, int],
) -> dict[int, dict[int, list[int]]]:
    """Image id -> lookup offset -> [self samples, blocked ns] of the user frames worth keeping."""
    out: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    is_kernel = frames.is_kernel

    def add(frame_id: int, column: int, amount: int) -> None:
        image_id = frames.image_ids[frame_id]
        if is_kernel[frame_id] or images[image_id].kind in (ImageKind.KERNEL, ImageKind.UNKNOWN):
            return
        out[image_id][frames.lookup_offset(frame_id)][column] += amount

    for frame_id, count in db.execute(
        "SELECT st.frame_id, sum(t.count) FROM sample_totals t JOIN stacks st ON st.id = t.stack_id"
        " GROUP BY st.frame_id"
    ):
        add(frame_id, 0, count)
    for stack_id, ns in blocked.items():
        for frame_id in set(stacks.frames_leaf_first(stack_id)):
            add(frame_id, 1, ns)
    return out
