"""Per-process memo of parsed ELF files, so each file is parsed at most once per process.

Core's cross-run cache (:mod:`stax.symbol_cache`) remembers *answers* by build id; this
remembers *tables*, so a second image with the same file (or a second pass in a
long-lived process such as the web UI) costs no parsing.  An entry is keyed by the path
and the file's identity on disk (device, inode, size, mtime): a file replaced in place
gets a new key and is parsed again.  The build id is read from the file, so it is part of
the value, checked by the caller against the recorded one.  Failures are remembered too,
so a corrupt file is not re-read for every image that names it.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from stax_symbols.elf_file import ElfReadError
from stax_symbols.loaded_elf import LoadedElf, load_elf

_MAX_ENTRIES = 256

_Key = tuple[str, int, int, int, int]


class ElfMemo:
    """Path -> :class:`LoadedElf` (or the sentence saying why not), least recently used out."""

    def __init__(self, max_entries: int = _MAX_ENTRIES) -> None:
        self._entries: OrderedDict[_Key, LoadedElf | str] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self.parses = 0
        """How many files were actually parsed (tests check the memo works)."""

    def load(self, path: str) -> LoadedElf:
        """The parsed file at ``path``; raises :class:`ElfReadError` with one sentence."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise ElfReadError(
                f"Cannot read symbols from {path}: the file no longer exists"
                " (removed, or inside another mount namespace)."
            ) from None
        except OSError as exc:
            raise ElfReadError(f"Cannot read symbols from {path}: {exc.strerror or exc}.") from None
        key = (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            entry = self._parse(path)
            with self._lock:
                self._entries[key] = entry
                while len(self._entries) > self._max_entries:
                    self._entries.popitem(last=False)
        if isinstance(entry, str):
            raise ElfReadError(entry)
        return entry

    def _parse(self, path: str) -> LoadedElf | str:
        self.parses += 1
        try:
            with open(path, "rb") as stream:
                return load_elf(stream, path)
        except ElfReadError as exc:
            return str(exc)
        except IsADirectoryError:
            return f"Cannot read symbols from {path}: it is a directory, not an ELF file."
        except OSError as exc:
            return f"Cannot read symbols from {path}: {exc.strerror or exc}."

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


PROCESS_MEMO = ElfMemo()
"""The memo every ELF-file source of this process shares."""
