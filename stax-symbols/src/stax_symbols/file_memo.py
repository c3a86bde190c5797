"""A per-process, least-recently-used memo of things built from files, keyed by file identity.

The key is the path and the file's identity on disk (device, inode, size, mtime), so a
file replaced in place is built again.  Failures are remembered as the one sentence that
explains them, so a corrupt file is not re-read for every image that names it.  The ELF
and DWARF memos are this, with their own builder and error type.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

_Key = tuple[str, int, int, int, int]


class FileMemo(Generic[T]):
    """Path -> ``build(path)`` (a value, or the sentence saying why not)."""

    def __init__(
        self,
        build: Callable[[str], T | str],
        error: type[Exception],
        describe_stat_error: Callable[[str, OSError], str],
        max_entries: int,
    ) -> None:
        self._build = build
        self._error = error
        self._describe_stat_error = describe_stat_error
        self._entries: OrderedDict[_Key, T | str] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self.builds = 0
        """How many files were actually read (tests check the memo works)."""

    def load(self, path: str) -> T:
        """The value for ``path``; raises ``error`` with one sentence."""
        try:
            st = os.stat(path)
        except OSError as exc:
            raise self._error(self._describe_stat_error(path, exc)) from None
        key = (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            self.builds += 1
            entry = self._build(path)
            with self._lock:
                self._entries[key] = entry
                while len(self._entries) > self._max_entries:
                    self._entries.popitem(last=False)
        if isinstance(entry, str):
            raise self._error(entry)
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
