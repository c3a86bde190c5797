"""The parsed kallsyms table is kept per boot in the cache dir and reloaded in milliseconds."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stax_symbols.kernel import kallsyms_cache
from stax_symbols.kernel.kallsyms import KALLSYMS_PATH, load_kernel_symbols


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STAX_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_second_load_comes_from_the_cache(private_cache: Path) -> None:
    first = load_kernel_symbols()
    assert first.table is not None
    files = list(private_cache.glob("kallsyms-*.bin"))
    assert len(files) == 1
    start = time.perf_counter()
    second = load_kernel_symbols()
    elapsed = time.perf_counter() - start
    assert second.table is not None and len(second.table) == len(first.table)
    address = first.table.address_of("schedule")
    assert second.table.lookup(address + 5) == ("schedule", 5)
    assert elapsed < 0.15  # parsing /proc/kallsyms takes ~0.3 s here; the cache a few ms


def test_corrupt_cache_is_ignored_and_rewritten(private_cache: Path) -> None:
    key = kallsyms_cache.boot_key(KALLSYMS_PATH)
    assert key
    (private_cache / f"kallsyms-{key}.bin").write_bytes(b"stax-kallsyms-1\n\xff\xff garbage")
    symbols = load_kernel_symbols()
    assert symbols.table is not None and symbols.table.address_of("schedule")
    assert kallsyms_cache.load(key) is not None


def test_other_files_are_not_cached(private_cache: Path, tmp_path: Path) -> None:
    fake = tmp_path / "kallsyms"
    fake.write_text("ffffffff81000000 T first\nffffffff81000100 T second\n")
    symbols = load_kernel_symbols(fake, tmp_path / "no-notes")
    assert symbols.table is not None and symbols.table.lookup(0xFFFFFFFF81000010) == ("first", 0x10)
    assert not list(private_cache.glob("kallsyms-*.bin"))
