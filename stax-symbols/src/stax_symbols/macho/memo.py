"""Per-process memos of opened Mach-O files and dyld shared caches, keyed by file identity
(see :mod:`stax_symbols.file_memo`), so each file is read once per process."""

from __future__ import annotations

from stax_symbols.file_memo import FileMemo
from stax_symbols.macho.load_commands import MachoError
from stax_symbols.macho.macho_file import MachoFile, open_macho

_MAX_FILES = 64
_MAX_CACHES = 4


def _stat_error(path: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"Cannot read symbols from {path}: the file does not exist."
    return f"Cannot read symbols from {path}: {exc.strerror or exc}."


def _open_file(path: str) -> MachoFile | str:
    try:
        return open_macho(path)
    except MachoError as exc:
        return f"Cannot read symbols from {path}: {exc}."
    except IsADirectoryError:
        return f"Cannot read symbols from {path}: it is a directory, not a Mach-O file."
    except OSError as exc:
        return f"Cannot read symbols from {path}: {exc.strerror or exc}."


def _open_cache(path: str) -> object:
    from stax_symbols.macho.shared_cache import SharedCache

    try:
        return SharedCache(path)
    except (MachoError, OSError, ValueError) as exc:
        return f"Cannot read the dyld shared cache {path}: {exc}."


class MachoMemo(FileMemo[MachoFile]):
    """Path -> :class:`MachoFile` (or the sentence saying why not)."""

    def __init__(self, max_entries: int = _MAX_FILES) -> None:
        super().__init__(_open_file, MachoError, _stat_error, max_entries)


class SharedCacheMemo(FileMemo[object]):
    """Path -> :class:`~stax_symbols.macho.shared_cache.SharedCache` (or why not)."""

    def __init__(self, max_entries: int = _MAX_CACHES) -> None:
        super().__init__(_open_cache, MachoError, _stat_error, max_entries)


PROCESS_MACHO_MEMO = MachoMemo()
PROCESS_CACHE_MEMO = SharedCacheMemo()
