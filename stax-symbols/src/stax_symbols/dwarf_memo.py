"""Per-process memo of opened DWARF resolvers, so each debug file is read once per process.

Keyed like :mod:`.elf_memo` by path and on-disk identity (device, inode, size, mtime).  A
resolver holds the file's DWARF sections in memory (tens of MB for a large library), so
only a few are kept.  Core's build-id cache means a second *run* never gets here at all.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from elftools.common.exceptions import ELFError

from stax_symbols.dwarf_forms import DwarfError
from stax_symbols.dwarf_resolver import DwarfResolver
from stax_symbols.dwarf_sections import read_dwarf_sections

_MAX_ENTRIES = 8


class DwarfMemo:
    """Path -> :class:`DwarfResolver`, or the sentence saying why the file cannot be used."""

    def __init__(self, max_entries: int = _MAX_ENTRIES) -> None:
        self._entries: OrderedDict[tuple[str, int, int, int, int], DwarfResolver | str] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self.opens = 0
        """How many debug files were actually opened (tests check the memo and the cache)."""

    def load(self, path: str) -> DwarfResolver:
        """The resolver for ``path``; raises :class:`DwarfError` with one sentence."""
        try:
            st = os.stat(path)
        except OSError as exc:
            raise DwarfError(f"Cannot read the debug info in {path}: {exc.strerror or exc}.") from None
        key = (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            entry = self._open(path)
            with self._lock:
                self._entries[key] = entry
                while len(self._entries) > self._max_entries:
                    self._entries.popitem(last=False)
        if isinstance(entry, str):
            raise DwarfError(entry)
        return entry

    def _open(self, path: str) -> DwarfResolver | str:
        self.opens += 1
        try:
            with open(path, "rb") as stream:
                return DwarfResolver(read_dwarf_sections(stream), path)
        except OSError as exc:
            return f"Cannot read the debug info in {path}: {exc.strerror or exc}."
        except (DwarfError, ELFError, IndexError, ValueError, KeyError) as exc:
            return f"The debug info in {path} is damaged ({exc}); its frames are named from symbol tables."
        except Exception as exc:  # zlib and pyelftools raise assorted errors on damaged input
            return (f"The debug info in {path} is damaged ({type(exc).__name__}); its frames are named"
                    " from symbol tables.")

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


PROCESS_DWARF_MEMO = DwarfMemo()
"""The memo the DWARF source of this process uses."""
