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

from stax_symbols.elf.elf_file import ElfReadError
from stax_symbols.elf.loaded_elf import LoadedElf, load_elf
from stax_symbols.file_memo import FileMemo

_MAX_ENTRIES = 256


def _stat_error(path: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return (f"Cannot read symbols from {path}: the file no longer exists"
                " (removed, or inside another mount namespace).")
    return f"Cannot read symbols from {path}: {exc.strerror or exc}."


def _parse(path: str) -> LoadedElf | str:
    try:
        with open(path, "rb") as stream:
            return load_elf(stream, path)
    except ElfReadError as exc:
        return str(exc)
    except IsADirectoryError:
        return f"Cannot read symbols from {path}: it is a directory, not an ELF file."
    except OSError as exc:
        return f"Cannot read symbols from {path}: {exc.strerror or exc}."


class ElfMemo(FileMemo[LoadedElf]):
    """Path -> :class:`LoadedElf` (or the sentence saying why not), least recently used out."""

    def __init__(self, max_entries: int = _MAX_ENTRIES) -> None:
        super().__init__(_parse, ElfReadError, _stat_error, max_entries)

    @property
    def parses(self) -> int:
        """How many files were actually parsed (tests check the memo works)."""
        return self.builds

    @parses.setter
    def parses(self, value: int) -> None:
        self.builds = value


PROCESS_MEMO = ElfMemo()
"""The memo every ELF-file source of this process shares."""
