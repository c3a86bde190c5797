"""The recordings one ``stax serve`` shows, opened once and read on one thread.

SQLite connections belong to the thread that opened them, and the views of a big
recording are CPU-bound Python: one worker thread owns both recordings (the one
shown and the ``--base`` one) and runs every query in turn, so two browser tabs never
double the memory or fight over the 2 cores the event loop also needs.  Built
profiles are kept per selection (a few, least recently used first out), so moving
between views of one selection aggregates once.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from stax.analysis.profile import DisplayTreeBuilder, display_tree_builder
from stax.recording.reader import Recording
from stax_web.meta_view import time_origin

T = TypeVar("T")

CACHED_AGGREGATES = 8
"""Profiles and call trees kept per session (recent selections; tens of MB each for millions
of samples), freed when pushed out."""
CACHED_PAYLOADS = 128
"""Built answers kept per session (a few hundred KB each at most)."""


class Session:
    """The shown recording (``current``) and the ``--base`` one, each a :class:`Recording`.

    Create it with :meth:`open`, which raises the reader's one-sentence
    :class:`stax.errors.RecordingFormatError` for a missing, corrupt or foreign file.
    Everything touching the recordings runs through :meth:`call`.
    """

    def __init__(self, executor: ThreadPoolExecutor, current: Recording, base: Recording | None) -> None:
        self._executor = executor
        self.current = current
        self.base = base
        self._aggregates: OrderedDict[Hashable, object] = OrderedDict()
        self._payloads: OrderedDict[Hashable, object] = OrderedDict()
        self.origin: tuple[int, int] = (0, 0)
        """(first, last) event time of ``current``: the page's times are relative to ``first``."""
        self.base_origin: tuple[int, int] = (0, 0)
        self._builders: dict[tuple[int, bool], DisplayTreeBuilder] = {}

    @classmethod
    def open(cls, path: Path, base: Path | None = None) -> Session:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stax-web-data")
        try:
            current = executor.submit(Recording.open, path).result()
            base_rec = executor.submit(Recording.open, base).result() if base is not None else None
        except BaseException:
            executor.shutdown(wait=False)
            raise
        session = cls(executor, current, base_rec)
        session.origin = executor.submit(time_origin, current).result()
        if base_rec is not None:
            session.base_origin = executor.submit(time_origin, base_rec).result()
        return session

    async def call(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` on the data thread and wait for it without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def submit(self, fn: Callable[..., object], *args: object) -> None:
        """Run ``fn(*args)`` on the data thread without waiting (requests queue behind it)."""
        self._executor.submit(fn, *args)

    def cached(self, key: Hashable, build: Callable[[], T], payload: bool = False) -> T:
        """``build()``'s result for ``key``, built once while it stays among the recent ones:
        the :data:`CACHED_AGGREGATES` last profiles and trees, or with ``payload`` the
        :data:`CACHED_PAYLOADS` last answers.

        Call on the data thread only (inside a function given to :meth:`call`)."""
        cache, size = (self._payloads, CACHED_PAYLOADS) if payload else (self._aggregates, CACHED_AGGREGATES)
        if key in cache:
            cache.move_to_end(key)
            return cache[key]  # type: ignore[return-value]
        value = build()
        cache[key] = value
        while len(cache) > size:
            cache.popitem(last=False)
        return value

    def builder(self, rec: Recording, off_cpu: bool = False) -> DisplayTreeBuilder:
        """The display tree of ``rec``'s stacks, grown by every profile built (data thread only);
        ``off_cpu``: the one of its off-CPU stacks, frames that are not code dropped."""
        key = (id(rec), off_cpu)
        found = self._builders.get(key)
        if found is None:
            found = self._builders[key] = display_tree_builder(rec, drop_non_code=off_cpu)
        return found

    def close(self) -> None:
        def close_all() -> None:
            self._aggregates.clear()
            self._payloads.clear()
            self._builders.clear()
            for rec in (self.current, self.base):
                if rec is not None:
                    rec.close()
        self._executor.submit(close_all).result()
        self._executor.shutdown(wait=True)
