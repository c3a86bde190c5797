"""Strings kdebug splits over several events: thread names and ``kdebug_trace_string`` ids.

A long string is traced as a run of events by one thread: the first carries
DBG_FUNC_START, the last DBG_FUNC_END (one event carries both), and each carries
8 bytes per argument (bsd/kern/kdebug.c ``kernel_debug_string_simple`` and
``kernel_debug_string_internal``).  Runs are keyed by (thread, event id): a thread
traces its string with interrupts enabled, so other threads' events interleave,
but one thread's run is never interleaved with another run of its own.

``kdebug_trace_string`` strings (TRACE_STRING_GLOBAL) start with two header words,
(debugid, string id), and are kept by id until the same id is traced again empty,
which invalidates it; dyld names an image's path this way before its MAP events.
"""

from __future__ import annotations

from stax_backend_macos.kd_buf import KdRecord, packed_string
from stax_backend_macos.kdebug_codes import DBG_FUNC_END, DBG_FUNC_START, TRACE_STRING_GLOBAL

MAX_STRING_WORDS = 64
"""The longest string kept (512 bytes); xnu's own limit is 130 words for trace strings."""


class TraceStrings:
    """Assembles split strings; ``orphans`` counts continuation events whose start was not seen."""

    def __init__(self) -> None:
        self._open: dict[tuple[int, int], list[int]] = {}
        self._by_id: dict[int, str] = {}
        self.orphans = 0

    def feed(self, record: KdRecord, event_id: int) -> str | None:
        """Add one event of a split string; the whole string when this event ends it, else None."""
        func = record.debugid & (DBG_FUNC_START | DBG_FUNC_END)
        key = (record.tid, event_id)
        words = [record.arg1, record.arg2, record.arg3, record.arg4]
        if func & DBG_FUNC_START:
            parts = words
            self._open.pop(key, None)
        else:
            found = self._open.pop(key, None)
            if found is None:
                self.orphans += 1
                return None
            parts = found + words
        if not func & DBG_FUNC_END and len(parts) < MAX_STRING_WORDS:
            self._open[key] = parts
            return None
        if event_id == TRACE_STRING_GLOBAL:
            string_id, text = parts[1], packed_string(*parts[2:])
            if text:
                self._by_id[string_id] = text
            else:  # the same id traced again with no string: forget it
                self._by_id.pop(string_id, None)
            return text
        return packed_string(*parts)

    def by_id(self, string_id: int) -> str | None:
        """A ``kdebug_trace_string`` string still valid under ``string_id``."""
        return self._by_id.get(string_id)
