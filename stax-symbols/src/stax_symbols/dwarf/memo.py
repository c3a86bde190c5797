"""Per-process memo of opened DWARF resolvers, so each debug file is read once per process.

Keyed like :mod:`stax_symbols.elf.memo` by path and on-disk identity (device, inode, size, mtime).  A
resolver holds the file's DWARF sections in memory (tens of MB for a large library), so
only a few are kept.  Core's build-id cache means a second *run* never gets here at all.
"""

from __future__ import annotations

from stax_symbols.dwarf.forms import DwarfError
from stax_symbols.dwarf.resolver import DwarfResolver
from stax_symbols.dwarf.sections import read_dwarf_sections
from stax_symbols.file_memo import FileMemo

_MAX_ENTRIES = 8


def _stat_error(path: str, exc: OSError) -> str:
    return f"Cannot read the debug info in {path}: {exc.strerror or exc}."


def _open(path: str) -> DwarfResolver | str:
    try:
        with open(path, "rb") as stream:
            return DwarfResolver(read_dwarf_sections(stream), path)
    except OSError as exc:
        return _stat_error(path, exc)
    except (DwarfError, IndexError, ValueError, KeyError) as exc:
        return f"The debug info in {path} is damaged ({exc}); its frames are named from symbol tables."
    except Exception as exc:  # the DWARF readers meet assorted damage; any of it is one sentence
        return (f"The debug info in {path} is damaged ({type(exc).__name__}); its frames are named"
                " from symbol tables.")


class DwarfMemo(FileMemo[DwarfResolver]):
    """Path -> :class:`DwarfResolver`, or the sentence saying why the file cannot be used."""

    def __init__(self, max_entries: int = _MAX_ENTRIES) -> None:
        super().__init__(_open, DwarfError, _stat_error, max_entries)

    @property
    def opens(self) -> int:
        """How many debug files were actually opened (tests check the memo and the cache)."""
        return self.builds

    @opens.setter
    def opens(self, value: int) -> None:
        self.builds = value


PROCESS_DWARF_MEMO = DwarfMemo()
"""The memo the DWARF source of this process uses."""
