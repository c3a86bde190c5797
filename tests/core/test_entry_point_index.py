"""The cached entry-point index agrees with a full scan and is rebuilt when sys.path changes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stax import entry_point_index


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STAX_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("STAX_NO_ENTRY_POINT_CACHE", raising=False)
    return tmp_path


def test_cached_index_equals_a_scan(cache: Path) -> None:
    scanned = entry_point_index.scan("stax")
    assert {r.name for r in scanned} >= {"render", "backend_linux", "backend_macos"}
    assert entry_point_index.entry_points("stax") == scanned  # first call writes the cache
    assert len(list(cache.glob("entry-points-stax-*.json"))) == 1
    assert entry_point_index.entry_points("stax") == scanned  # second call reads it


def test_a_changed_sys_path_rescans(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry_point_index.entry_points("stax")
    extra = tmp_path / "site"
    extra.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(extra)])
    entry_point_index.entry_points("stax")
    assert len(list(cache.glob("entry-points-stax-*.json"))) == 2


def test_corrupt_cache_falls_back_to_a_scan(cache: Path) -> None:
    entry_point_index.entry_points("stax")
    for path in cache.glob("entry-points-stax-*.json"):
        path.write_text("{not json")
    assert entry_point_index.entry_points("stax") == entry_point_index.scan("stax")
