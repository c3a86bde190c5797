"""The code tables of a recording: write the functions ``stax record`` kept, read them back.

Schema in :data:`stax.recording.schema.CODE_SCHEMA`, documented in
docs/recording-format.md.  Addresses are stored like every other 64-bit value
(:func:`stax.recording.schema.to_sql_u64`); file paths once each in ``code_files``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import attrs

from stax.function_code import CodeStatus, FunctionCode, InlineRange, LineRow, SymbolRange
from stax.recording.reader import Recording
from stax.recording.schema import CODE_SCHEMA, compact, from_sql_u64, to_sql_u64

CODE_TABLES = ("code_functions", "code_files", "code_lines", "code_inlines", "code_symbols")


@attrs.frozen(slots=True)
class StoredFunction:
    """A ``code_functions`` row without its bytes: enough to map frames onto functions."""

    id: int
    image_id: int
    name: str
    offset: int
    address: int
    size: int
    arch: str
    status: str

    def contains_offset(self, offset: int) -> bool:
        return self.offset <= offset < self.offset + self.size


class CodeTableWriter:
    """Appends functions to the code tables of an open recording database."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        for statement in compact(CODE_SCHEMA).split(";"):  # not executescript: it would commit
            if statement.strip():
                db.execute(statement)
        self._files: dict[str, int] = dict(
            (path, file_id) for file_id, path in db.execute("SELECT id, path FROM code_files"))
        row = db.execute("SELECT max(id) FROM code_functions").fetchone()
        self._next_id = (row[0] or 0) + 1

    def _file_id(self, path: str | None) -> int | None:
        if path is None:
            return None
        file_id = self._files.get(path)
        if file_id is None:
            file_id = len(self._files) + 1
            self.db.execute("INSERT INTO code_files VALUES (?,?)", (file_id, path))
            self._files[path] = file_id
        return file_id

    def write(self, image_id: int, functions: Iterable[FunctionCode]) -> None:
        for function in functions:
            function_id = self._next_id
            self._next_id += 1
            self.db.execute(
                "INSERT INTO code_functions VALUES (?,?,?,?,?,?,?,?,?)",
                (function_id, image_id, function.name, to_sql_u64(function.offset),
                 to_sql_u64(function.address), function.size, function.arch, function.status,
                 function.code),
            )
            self.db.executemany(
                "INSERT INTO code_lines VALUES (?,?,?,?)",
                ((function_id, to_sql_u64(r.address), self._file_id(r.file), r.line)
                 for r in function.lines),
            )
            self.db.executemany(
                "INSERT INTO code_inlines VALUES (?,?,?,?,?,?,?)",
                ((function_id, to_sql_u64(r.start), to_sql_u64(r.end), r.depth, r.function,
                  self._file_id(r.call_file), r.call_line) for r in function.inlines),
            )
            self.db.executemany(
                "INSERT INTO code_symbols VALUES (?,?,?,?)",
                ((function_id, to_sql_u64(s.address), s.size, s.name) for s in function.symbols),
            )


def has_code_tables(recording: Recording) -> bool:
    """Whether the recording was written by a stax that keeps code (older ones did not)."""
    rows = recording._query("SELECT name FROM sqlite_master WHERE type='table' AND name=?",
                            ("code_functions",))
    return bool(rows)


def stored_functions(recording: Recording) -> dict[int, list[StoredFunction]]:
    """Image id -> its stored functions, sorted by offset (bytes not read)."""
    out: dict[int, list[StoredFunction]] = {}
    if not has_code_tables(recording):
        return out
    for row in recording._query(
        "SELECT id, image_id, name, offset, address, size, arch, status FROM code_functions"
    ):
        fid, image_id, name, offset, address, size, arch, status = row
        out.setdefault(image_id, []).append(StoredFunction(
            fid, image_id, name, from_sql_u64(offset), from_sql_u64(address), size, arch, status))
    for functions in out.values():
        functions.sort(key=lambda f: f.offset)
    return out


def read_function_code(recording: Recording, stored: StoredFunction) -> FunctionCode:
    """The whole stored function: bytes (None unless kept), lines, inlines, target symbols."""
    (code,) = recording._query("SELECT code FROM code_functions WHERE id=?", (stored.id,))[0]
    files = dict(recording._query("SELECT id, path FROM code_files"))
    lines = tuple(
        LineRow(from_sql_u64(address), files.get(file_id), line)
        for address, file_id, line in recording._query(
            "SELECT address, file_id, line FROM code_lines WHERE function_id=? ORDER BY rowid",
            (stored.id,))
    )
    inlines = tuple(
        InlineRange(from_sql_u64(start), from_sql_u64(end), depth, function, files.get(file_id),
                    call_line)
        for start, end, depth, function, file_id, call_line in recording._query(
            "SELECT start, end, depth, function, call_file_id, call_line FROM code_inlines"
            " WHERE function_id=? ORDER BY start, depth", (stored.id,))
    )
    symbols = tuple(
        SymbolRange(from_sql_u64(address), size, name)
        for address, size, name in recording._query(
            "SELECT address, size, name FROM code_symbols WHERE function_id=? ORDER BY address",
            (stored.id,))
    )
    status = stored.status if code is not None or stored.status != CodeStatus.KEPT else \
        CodeStatus.OVER_BUDGET
    return FunctionCode(stored.name, stored.offset, stored.address, stored.size, stored.arch,
                        bytes(code) if code is not None else None, status, lines, inlines, symbols)
