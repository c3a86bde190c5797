"""A second recording of the same binary keeps the same code without asking the code sources:
the cross-run cache answers by build id (as the symbol cache does for names)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from stax_symbols.elf_code import ElfCodeSource
from tests.annotate.elf_recording import write_elf_recording
from tests.annotate.objdump_listing import symbol_range
from tests.conftest import compile_c

WORKLOAD = Path(__file__).resolve().parent / "workloads" / "hot_loop.c"


def code_rows(recording: Path) -> list[tuple]:
    db = sqlite3.connect(recording)
    try:
        functions = db.execute("SELECT name, offset, address, size, arch, status, code"
                               " FROM code_functions ORDER BY name").fetchall()
        lines = db.execute("SELECT f.name, l.address, c.path, l.line FROM code_lines l"
                           " JOIN code_functions f ON f.id = l.function_id"
                           " LEFT JOIN code_files c ON c.id = l.file_id ORDER BY f.name, l.rowid").fetchall()
        inlines = db.execute("SELECT f.name, i.start, i.end, i.depth, i.function, i.call_line"
                             " FROM code_inlines i JOIN code_functions f ON f.id = i.function_id"
                             " ORDER BY 1, 2, 4").fetchall()
    finally:
        db.close()
    return [functions, lines, inlines]


def test_second_recording_uses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAX_CACHE_DIR", str(tmp_path / "cache"))
    binary = compile_c(WORKLOAD, tmp_path / "hot_loop", "-O2", "-g", "-fno-omit-frame-pointer")
    start, _ = symbol_range("nm", binary, "hot_loop")
    samples = {(start + 0x54,): 30, (start + 0x5c,): 20}
    first = code_rows(write_elf_recording(tmp_path / "first.stax", binary, samples))
    assert first[0] and first[1] and first[2], "hot_loop with its lines and the inlined scale()"

    def refuse(*args: object) -> list[object]:
        raise AssertionError("the code source was asked again")

    monkeypatch.setattr(ElfCodeSource, "function_code", refuse)
    second = code_rows(write_elf_recording(tmp_path / "second.stax", binary, samples))
    assert second == first
