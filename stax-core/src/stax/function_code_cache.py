"""A cross-run cache of the functions' code that ``stax record`` keeps for annotate.

The code pass needs line-table slices, so without this a second recording of the same
binaries would open their debug info again, which the symbol cache
(:mod:`stax.symbol_cache`) exists to avoid.  Entries are keyed like that cache - the
image's build id plus the code sources' ``cache_token``s and the per-function bound - by
the function's start; offsets no source could place are remembered for
:data:`stax.symbol_cache.MISS_TTL_S`.  A SQLite file beside the symbol cache.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from stax.cache_dirs import work_dir
from stax.function_code import FunctionCode, InlineRange, LineRow, SymbolRange
from stax.symbol_cache import MISS_TTL_S

CACHE_VERSION = 1

_TABLES = (
    "CREATE TABLE IF NOT EXISTS functions (key TEXT, start INTEGER, end INTEGER, function TEXT,"
    " code BLOB, PRIMARY KEY (key, start)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS misses (key TEXT, offset INTEGER, time REAL,"
    " PRIMARY KEY (key, offset)) WITHOUT ROWID",
)


class FunctionCodeCache:
    """(image key, offset) -> the cached function holding it, or a recent miss."""

    def __init__(self, directory: Path | None = None) -> None:
        self.path = (directory or work_dir()) / f"code-v{CACHE_VERSION}.sqlite"
        try:
            self.db = sqlite3.connect(self.path, timeout=5.0)
            for statement in _TABLES:
                self.db.execute(statement)
        except sqlite3.Error:
            self.db = sqlite3.connect(":memory:")  # unusable cache: carry on without one
            for statement in _TABLES:
                self.db.execute(statement)

    def lookup(self, key: str, offsets: Iterable[int]) -> tuple[list[FunctionCode], set[int]]:
        """(cached functions holding some of ``offsets``, offsets that are recent misses)."""
        found: dict[int, FunctionCode] = {}
        misses: set[int] = set()
        fresh_after = time.time() - MISS_TTL_S
        try:
            for offset in offsets:
                if any(f.contains_offset(offset) for f in found.values()):
                    continue
                row = self.db.execute(
                    "SELECT start, end, function, code FROM functions WHERE key=? AND start <= ?"
                    " ORDER BY start DESC LIMIT 1", (key, offset)).fetchone()
                if row is not None and offset < row[1]:
                    found[row[0]] = _decode(row[2], row[3])
                elif self.db.execute("SELECT 1 FROM misses WHERE key=? AND offset=? AND time > ?",
                                     (key, offset, fresh_after)).fetchone():
                    misses.add(offset)
        except (sqlite3.Error, ValueError, TypeError, KeyError):
            return [], set()  # a damaged cache only costs speed
        return list(found.values()), misses

    def store(self, key: str, functions: Sequence[FunctionCode], unresolved: Iterable[int] = ()) -> None:
        now = time.time()
        try:
            with self.db:
                self.db.executemany(
                    "INSERT OR REPLACE INTO functions VALUES (?,?,?,?,?)",
                    ((key, f.offset, f.offset + f.size, _encode(f), f.code) for f in functions))
                self.db.executemany("INSERT OR REPLACE INTO misses VALUES (?,?,?)",
                                    ((key, o, now) for o in unresolved))
        except sqlite3.Error:
            pass  # a read-only or locked cache only costs speed

    def close(self) -> None:
        self.db.close()


def _encode(f: FunctionCode) -> str:
    return json.dumps({
        "name": f.name, "offset": f.offset, "address": f.address, "size": f.size, "arch": f.arch,
        "status": f.status,
        "lines": [[r.address, r.file, r.line] for r in f.lines],
        "inlines": [[r.start, r.end, r.depth, r.function, r.call_file, r.call_line] for r in f.inlines],
        "symbols": [[s.address, s.size, s.name] for s in f.symbols],
    })


def _decode(text: str, code: bytes | None) -> FunctionCode:
    d = json.loads(text)
    return FunctionCode(
        d["name"], d["offset"], d["address"], d["size"], d["arch"],
        bytes(code) if code is not None else None, d["status"],
        tuple(LineRow(*r) for r in d["lines"]), tuple(InlineRange(*r) for r in d["inlines"]),
        tuple(SymbolRange(*s) for s in d["symbols"]))
