"""An on-disk copy of this boot's parsed kallsyms table.

Reading and parsing /proc/kallsyms costs ~0.2 s of CPU per ``stax record``; the table
only changes when the machine reboots or a module is (un)loaded.  So the parsed table
is stored in the stax cache directory under a key made of the boot id, the module list
and the reader's uid (kptr_restrict shows zeros to some users), and loaded in a few ms.
Without a cache directory stax can trust (:func:`stax.cache_dirs.cache_dir`) nothing is
stored or loaded.
"""

from __future__ import annotations

import hashlib
import os
from array import array
from pathlib import Path

from stax.cache_dirs import cache_dir
from stax_symbols.symbol_table import SymbolTable

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
MODULES_PATH = Path("/proc/modules")
FORMAT = b"stax-kallsyms-1\n"


def boot_key(kallsyms: Path) -> str | None:
    """A key that changes whenever the kallsyms content can: boot, modules, reader uid."""
    try:
        boot_id = BOOT_ID_PATH.read_bytes()
        modules = MODULES_PATH.read_bytes() if MODULES_PATH.exists() else b""
    except OSError:
        return None
    # /proc/modules lists addresses too: a reloaded module at another address changes it
    digest = hashlib.sha256(boot_id + modules + str(kallsyms).encode() + str(os.geteuid()).encode())
    return digest.hexdigest()[:32]


def _path(key: str) -> Path | None:
    directory = cache_dir()
    return directory / f"kallsyms-{key}.bin" if directory else None


def load(key: str) -> SymbolTable | None:
    """The cached table for ``key``, or None (missing or unreadable: the caller re-parses)."""
    path = _path(key)
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(FORMAT):
        return None
    try:
        header_end = len(FORMAT) + 8
        count = int.from_bytes(data[len(FORMAT):header_end], "little")
        starts = array("Q")
        ends = array("Q")
        starts.frombytes(data[header_end:header_end + 8 * count])
        ends.frombytes(data[header_end + 8 * count:header_end + 16 * count])
        names = data[header_end + 16 * count:].decode().split("\n")
    except (ValueError, UnicodeDecodeError):
        return None
    if len(names) != count or len(starts) != count or len(ends) != count:
        return None
    table = SymbolTable.__new__(SymbolTable)
    table._starts, table._ends, table._names = starts, ends, names
    return table


def store(key: str, table: SymbolTable) -> None:
    """Write the table atomically; a cache that cannot be written only costs speed."""
    names = "\n".join(table._names).encode()
    blob = (FORMAT + len(table._names).to_bytes(8, "little") + table._starts.tobytes()
            + table._ends.tobytes() + names)
    path = _path(key)
    if path is None:
        return
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        tmp.write_bytes(blob)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
