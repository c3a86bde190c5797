"""The DWARF source's cache token changes when debug info for an image appears."""

from __future__ import annotations

from pathlib import Path

import pytest

from stax.contracts import SymbolContext
from stax.events import ImageKind
from stax.stack_table import Image
from stax_symbols.debug_files.locator import DebugFileLocator
from stax_symbols.dwarf.source import DwarfSymbolSource


def test_token_follows_build_id_debug_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAX_DEBUG_DIRS", str(tmp_path / "debug"))
    monkeypatch.delenv("DEBUGINFOD_URLS", raising=False)
    source = DwarfSymbolSource(locator=DebugFileLocator())
    image = Image(0, str(tmp_path / "bin" / "prog"), ImageKind.ELF, bytes.fromhex("abcdef0123"))
    context = SymbolContext(cache_dir=tmp_path / "cache")
    before = source.cache_token(image, context)
    debug = tmp_path / "debug" / ".build-id" / "ab" / "cdef0123.debug"
    debug.parent.mkdir(parents=True)
    debug.write_bytes(b"\x7fELF stand-in")
    after = source.cache_token(image, context)
    assert before != after and str(debug) in after
    assert source.cache_token(image, context) == after  # stable while nothing changes


def test_token_expires_daily_while_debuginfod_has_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEBUGINFOD_URLS", "http://127.0.0.1:9")
    monkeypatch.setenv("STAX_DEBUG_DIRS", str(tmp_path / "debug"))
    source = DwarfSymbolSource(locator=DebugFileLocator())
    image = Image(0, "/nonexistent/prog", ImageKind.ELF, bytes.fromhex("0011223344"))
    context = SymbolContext(cache_dir=tmp_path / "cache")
    assert "debuginfod:day" in source.cache_token(image, context)
    cached = tmp_path / "cache" / "debuginfod" / "0011223344" / "debuginfo"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert "debuginfod:cached" in source.cache_token(image, context)
    assert source.cache_token(Image(1, "/x", ImageKind.KERNEL), context) is None
