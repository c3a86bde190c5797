"""A synthesized dyld shared cache (header, mappings, images, text, a subcache holding
__LINKEDIT, local symbols in .symbols) resolves addresses to the right dylib and function,
through ``stax symbolize`` and through the symbol source a macOS recording will use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stax.events import ImageKind
from stax.stack_table import Image
from stax_symbols.macho.shared_cache import SharedCache
from tests.cli.conftest import stax
from tests.symbols.debug_workload import as_chain, symbolicate_like_core
from tests.symbols.macho.shared_cache_builder import BASE, DYLIBS, SUB_UUID, TEXT_OFFSET, write_cache

A, B = DYLIBS
A_TEXT, B_TEXT = A.address + TEXT_OFFSET, B.address + TEXT_OFFSET
EXPECTED = {
    A_TEXT + 0x10: (A.path, "a_public", 0x10),
    A_TEXT + 0x28: (A.path, "a_hidden", 0x8),  # a local symbol: only in .symbols
    A_TEXT + 0x44: (A.path, "a_other", 0x4),
    A_TEXT + 0x64: (A.path, None, None),  # a function start without any name: not a_other
    B_TEXT + 0x04: (B.path, "b_entry", 0x4),
    BASE + 0x2000: (None, None, None),  # in the cache, in no dylib
}


@pytest.mark.parametrize("modern", [True, False], ids=["split-cache", "single-file"])
def test_symbolize_names_the_image_and_function(tmp_path: Path, modern: bool) -> None:
    main = write_cache(tmp_path, modern=modern)
    proc = stax("symbolize", str(main), *(hex(a) for a in EXPECTED), "--json")
    assert proc.stderr == ""
    out = json.loads(proc.stdout)
    assert out["format"] == "dyld-shared-cache"
    got = {}
    for row in out["addresses"]:
        frame = row["frames"][0] if row["frames"] else {"function": None, "offset": None}
        got[int(row["address"], 16)] = (row["image"], frame["function"], frame["offset"])
    assert got == EXPECTED


def test_cache_reader_facts(tmp_path: Path) -> None:
    cache = SharedCache(str(write_cache(tmp_path)))
    assert [f.path for f in cache.files] == [
        str(tmp_path / "dyld_shared_cache_arm64e"),
        str(tmp_path / "dyld_shared_cache_arm64e.01"),
    ]
    assert cache.files[1].uuid == SUB_UUID
    assert [(i.path, i.uuid, i.address) for i in cache.images] == [
        (d.path, d.uuid, d.address) for d in DYLIBS
    ]
    assert cache.image_by_uuid(B.uuid).path == B.path
    assert cache.image_at(A_TEXT).path == A.path and cache.image_at(BASE + 0x2000) is None
    commands = cache.load_commands(cache.image_at(B_TEXT))
    assert commands.install_name == B.path and commands.uuid == B.uuid


def test_recorded_dylib_missing_on_disk_is_found_by_uuid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a macOS recording holds: /usr/lib/... does not exist, the UUID finds it in the cache."""
    main = write_cache(tmp_path / "cache")
    monkeypatch.setenv("STAX_DYLD_SHARED_CACHE", str(main.parent))  # a directory works too
    image = Image(1, A.path, ImageKind.MACHO, A.uuid)
    found, warnings = symbolicate_like_core(
        image, [TEXT_OFFSET + 0x10, TEXT_OFFSET + 0x28, TEXT_OFFSET + 0x64], {}, tmp_path
    )
    assert warnings == []
    assert as_chain(found[TEXT_OFFSET + 0x10]) == [("a_public", None, None)]
    assert as_chain(found[TEXT_OFFSET + 0x28]) == [("a_hidden", None, None)]
    assert TEXT_OFFSET + 0x64 not in found


def test_missing_subcache_is_one_sentence(tmp_path: Path) -> None:
    main = write_cache(tmp_path)
    (tmp_path / "dyld_shared_cache_arm64e.01").unlink()
    proc = stax("symbolize", str(main), hex(A_TEXT), check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == (
        f"stax: Cannot read the dyld shared cache {main}: the subcache {main}.01 of"
        f" {main} is missing; copy the whole cache directory.\n"
    )


def test_wrong_local_symbols_file_keeps_exported_names(tmp_path: Path) -> None:
    main = write_cache(tmp_path)
    other = write_cache(tmp_path / "other")
    symbols = tmp_path / "dyld_shared_cache_arm64e.symbols"
    data = bytearray(symbols.read_bytes())
    data[0x58:0x68] = bytes(16)  # another UUID in its header
    symbols.write_bytes(bytes(data))
    assert other.exists()
    proc = stax("symbolize", str(main), hex(A_TEXT + 0x10), hex(A_TEXT + 0x28), "--json")
    assert proc.stderr.count("\n") == 1
    assert f"{symbols} is not the local symbols file of {main}" in proc.stderr
    frames = [r["frames"] for r in json.loads(proc.stdout)["addresses"]]
    assert frames[0][0]["function"] == "a_public" and frames[1] == []
