"""Mach-O files built once per session (see :mod:`tests.symbols.macho.macho_build`)."""

from __future__ import annotations

import pytest

from tests.symbols.macho.macho_build import MachoBuild, build


@pytest.fixture(scope="session")
def macho(tmp_path_factory: pytest.TempPathFactory) -> MachoBuild:
    return build(tmp_path_factory.mktemp("macho") / "one", "one")


@pytest.fixture(scope="session")
def macho_other(tmp_path_factory: pytest.TempPathFactory) -> MachoBuild:
    """The same sources built again with another tag: other UUIDs, shifted addresses."""
    return build(tmp_path_factory.mktemp("macho") / "two", "the-other-build")


@pytest.fixture(autouse=True)
def _fresh_memos(monkeypatch: pytest.MonkeyPatch) -> None:
    from stax_symbols.macho.memo import PROCESS_CACHE_MEMO, PROCESS_MACHO_MEMO
    from stax_symbols.macho.symbol_source import PROCESS_MACHO_IMAGES

    monkeypatch.delenv("STAX_DEBUG_DIRS", raising=False)
    monkeypatch.delenv("STAX_DYLD_SHARED_CACHE", raising=False)
    PROCESS_MACHO_MEMO.clear()
    PROCESS_CACHE_MEMO.clear()
    PROCESS_MACHO_IMAGES.clear()
