"""A cross-run cache of symbolication results, keyed by build id and source tokens.

A second recording of the same binaries finds every address here and calls no
symbol source for them.  The key is the image's build id plus the sources'
``cache_token``s (which change when better debug info becomes available), and
misses expire after :data:`MISS_TTL_S`.  It lives in the stax cache directory
(:mod:`stax.cache_dirs`) as a small SQLite file; when there is no cache directory stax can
trust, it is kept in memory for the run only.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from stax.contracts import SymbolInfo

CACHE_VERSION = 2
MISS_TTL_S = 24 * 3600
"""An address no source could name is asked again after a day: debug info may have arrived."""


class SymbolCache:
    """(build id, offset) -> inline chain; a miss returns nothing.

    ``directory`` is a trusted cache directory (see :func:`stax.cache_dirs.cache_dir`);
    None keeps the cache in memory, for this run only.
    """

    def __init__(self, directory: Path | None) -> None:
        self.path = directory / f"symbols-v{CACHE_VERSION}.sqlite" if directory else None
        try:
            if self.path is None:
                raise sqlite3.OperationalError("no trusted cache directory")
            self.db = sqlite3.connect(self.path, timeout=5.0)
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS symbols (build_id TEXT, offset INTEGER, chain TEXT,"
                " PRIMARY KEY (build_id, offset)) WITHOUT ROWID"
            )
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS misses (build_id TEXT, offset INTEGER, time REAL,"
                " PRIMARY KEY (build_id, offset)) WITHOUT ROWID"
            )
        except sqlite3.Error:
            self.db = sqlite3.connect(":memory:")  # unusable cache: carry on without one
            self.db.execute(
                "CREATE TABLE symbols (build_id TEXT, offset INTEGER, chain TEXT,"
                " PRIMARY KEY (build_id, offset))"
            )
            self.db.execute(
                "CREATE TABLE misses (build_id TEXT, offset INTEGER, time REAL,"
                " PRIMARY KEY (build_id, offset))"
            )

    def lookup(
        self, key: str, offsets: Iterable[int]
    ) -> tuple[dict[int, list[SymbolInfo]], set[int]]:
        """Return (hits, known misses younger than a day) for ``offsets`` of image ``key``."""
        fresh_after = time.time() - MISS_TTL_S
        wanted = list(offsets)
        hits: dict[int, list[SymbolInfo]] = {}
        misses: set[int] = set()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for offset, chain in self.db.execute(
                f"SELECT offset, chain FROM symbols WHERE build_id=? AND offset IN ({marks})",
                (key, *chunk),
            ):
                hits[offset] = [SymbolInfo(**entry) for entry in json.loads(chain)]
            for (offset,) in self.db.execute(
                f"SELECT offset FROM misses WHERE build_id=? AND time > ? AND offset IN ({marks})",
                (key, fresh_after, *chunk),
            ):
                misses.add(offset)
        return hits, misses

    def store(
        self,
        key: str,
        resolved: Mapping[int, Sequence[SymbolInfo]],
        unresolved: Iterable[int] = (),
    ) -> None:
        now = time.time()
        rows = [
            (key, offset, json.dumps([_as_dict(s) for s in chain]))
            for offset, chain in resolved.items()
        ]
        try:
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO symbols VALUES (?,?,?)", rows)
                self.db.executemany(
                    "INSERT OR REPLACE INTO misses VALUES (?,?,?)", ((key, o, now) for o in unresolved)
                )
        except sqlite3.Error:
            pass  # a read-only or locked cache only costs speed

    def close(self) -> None:
        self.db.close()


def _as_dict(info: SymbolInfo) -> dict[str, object]:
    return {
        "function": info.function,
        "symbol_offset": info.symbol_offset,
        "file": info.file,
        "line": info.line,
        "inlined": info.inlined,
    }


def image_cache_key(build_id: bytes, tokens: Iterable[str]) -> str:
    """The cache key of an image: its build id, plus a digest of the sources' tokens."""
    joined = "\n".join(tokens)
    if not joined:
        return build_id.hex()
    return f"{build_id.hex()}#{hashlib.sha256(joined.encode()).hexdigest()[:16]}"
