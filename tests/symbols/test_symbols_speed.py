"""Speed floors for table loading and lookups (generous: they catch a 10x regression, not noise).

``pytest tests/symbols/test_symbols_speed.py -s`` prints the figures.
"""

from __future__ import annotations

import random
import sysconfig
import time
from pathlib import Path

import pytest

from stax.contracts import SymbolContext
from stax.events import ImageKind
from stax.stack_table import Image
from stax_symbols.elf_memo import ElfMemo
from stax_symbols.elf_symbols import ElfSymbolSource
from stax_symbols.kallsyms import load_kernel_symbols

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


def libpython() -> str:
    """The shared libpython of the interpreter running the tests (sysconfig says where it is)."""
    name = sysconfig.get_config_var("INSTSONAME")
    path = Path(sysconfig.get_config_var("LIBDIR") or "", name or "")
    if not name or not path.is_file():
        pytest.skip(f"this interpreter has no shared libpython ({path} does not exist)")
    return str(path)


@pytest.mark.parametrize("path", [LIBC, "libpython"])
def test_table_load_and_lookup_speed(path: str, tmp_path: Path) -> None:
    path = libpython() if path == "libpython" else path
    if not Path(path).exists():
        pytest.skip(f"{path} not on this machine")
    memo = ElfMemo()
    started = time.perf_counter()
    loaded = memo.load(path)
    load_ms = (time.perf_counter() - started) * 1000
    text = max(loaded.segments.segments, key=lambda s: s.file_size if s.executable else 0)
    rng = random.Random(7)
    end = text.file_offset + text.file_size
    offsets = sorted({rng.randrange(text.file_offset, end) for _ in range(50_000)})
    source = ElfSymbolSource(memo)
    started = time.perf_counter()
    answer = source.symbolicate(Image(0, path, ImageKind.ELF), offsets, SymbolContext(cache_dir=tmp_path))
    per_second = len(offsets) / (time.perf_counter() - started)
    print(f"\n{path}: {len(loaded.functions)} functions, table load {load_ms:.1f} ms,"
          f" {per_second:,.0f} lookups/s, {len(answer) / len(offsets):.0%} named")
    assert load_ms < 1000
    assert per_second > 50_000
    assert answer


def test_kallsyms_load_speed() -> None:
    started = time.perf_counter()
    symbols = load_kernel_symbols()
    load_ms = (time.perf_counter() - started) * 1000
    if symbols.table is None:
        pytest.skip(symbols.problem or "no kallsyms")
    print(f"\n/proc/kallsyms: {len(symbols.table)} text symbols, read and parsed in {load_ms:.0f} ms")
    assert load_ms < 3000
