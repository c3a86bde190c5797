"""Separate debug files: build-id directories, .gnu_debuglink (three places, CRC checked),
/usr/lib/debug itself, symbol-table-only debug files, and the refusals (wrong build id,
wrong CRC, damaged file), each refusal one sentence while other frames still resolve."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from stax_binfmt.debug_files import build_id_path, file_crc32, read_debuglink
from stax_symbols.debug_files.locator import PROCESS_LOCATOR
from tests.symbols.built_objects import nm_functions
from tests.symbols.debug_workload import (
    Variant,
    build_variant,
    elf_image,
    file_offset_of,
    reset_process_memos,
    run,
    symbolicate_like_core,
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEBUGINFOD_URLS", raising=False)
    monkeypatch.delenv("STAX_DEBUG_DIRS", raising=False)
    reset_process_memos()


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("debug-files")


def local_worker_offset(v: Variant) -> int:
    """A file offset inside the local (stripped-away) function, past its first instruction."""
    start, _ = nm_functions(v.twin)["local_worker"]
    return file_offset_of(v.twin, start + 4)


def exported_offset(v: Variant) -> int:
    start, _ = nm_functions(v.twin)["exported_driver"]
    return file_offset_of(v.twin, start + 1)


def names(v: Variant, binary: Path, cache: Path, **options: object) -> tuple[dict[int, list[str]], list[str]]:
    offsets = [local_worker_offset(v), exported_offset(v)]
    found, warnings = symbolicate_like_core(elf_image(binary, v.build_id), offsets, options, cache)
    return {o: [s.function for s in chain] for o, chain in found.items()}, warnings


def test_stripped_binary_alone_names_only_exports(build: Path, tmp_path: Path) -> None:
    v = build_variant(build / "alone", "alone")
    found, warnings = names(v, v.stripped, tmp_path)
    assert local_worker_offset(v) not in found  # nothing to name it: the control for the tests below
    assert found[exported_offset(v)] == ["exported_driver"]
    assert warnings == []


def test_build_id_directory_from_env(build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    v = build_variant(build / "bid", "bid")
    root = tmp_path / "debug-root"
    installed = Path(build_id_path(str(root), v.build_id))
    installed.parent.mkdir(parents=True)
    shutil.copy(v.debug, installed)
    monkeypatch.setenv("STAX_DEBUG_DIRS", f"{tmp_path / 'empty'}:{root}")
    found, warnings = names(v, v.stripped, tmp_path)
    assert warnings == []
    assert found[local_worker_offset(v)][-1] == "local_worker"
    assert found[local_worker_offset(v)][0] in ("hot_inline", "mix_step", "local_worker")
    files = PROCESS_LOCATOR.locate(elf_image(v.stripped, v.build_id), _context(tmp_path))
    assert (files.dwarf_file, files.dwarf_origin) == (str(installed), "build-id")


def test_build_id_directory_from_option(build: Path, tmp_path: Path) -> None:
    v = build_variant(build / "opt", "opt")
    root = tmp_path / "root2"
    Path(build_id_path(str(root), v.build_id)).parent.mkdir(parents=True)
    shutil.copy(v.debug, build_id_path(str(root), v.build_id))
    found, _ = names(v, v.stripped, tmp_path, debug_dirs=[str(root)])
    assert found[local_worker_offset(v)][-1] == "local_worker"


def test_real_usr_lib_debug(build: Path, tmp_path: Path) -> None:
    """Debian's -dbgsym packages install to /usr/lib/debug/.build-id; written and removed here."""
    v = build_variant(build / "sys", "sys")
    target = Path(build_id_path("/usr/lib/debug", v.build_id))
    if not os.access("/usr/lib", os.W_OK):
        pytest.skip("needs write access to /usr/lib/debug (run as root)")
    created_dir = not target.parent.exists()
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(v.debug, target)
    try:
        found, warnings = names(v, v.stripped, tmp_path)
    finally:
        target.unlink()
        if created_dir:
            target.parent.rmdir()
    assert warnings == []
    assert found[local_worker_offset(v)][-1] == "local_worker"


@pytest.mark.parametrize("where", ["beside", "dot-debug", "global-root"])
def test_debuglink_in_each_place(build: Path, tmp_path: Path, where: str) -> None:
    v = build_variant(build / f"link-{where}", f"link_{where.replace('-', '_')}", debuglink=True)
    link = read_debuglink(str(v.stripped))
    assert link is not None and link.name == v.debug.name and link.crc == file_crc32(str(v.debug))
    # move the debug file from beside the binary to the place under test
    binary = tmp_path / "bin" / v.stripped.name
    binary.parent.mkdir()
    shutil.copy(v.stripped, binary)
    options: dict[str, object] = {}
    if where == "beside":
        shutil.copy(v.debug, binary.parent / link.name)
    elif where == "dot-debug":
        (binary.parent / ".debug").mkdir()
        shutil.copy(v.debug, binary.parent / ".debug" / link.name)
    else:
        root = tmp_path / "global"
        target = root / str(binary.parent).lstrip("/") / link.name
        target.parent.mkdir(parents=True)
        shutil.copy(v.debug, target)
        options["debug_dirs"] = [str(root)]
    found, warnings = names(v, binary, tmp_path, **options)
    assert warnings == []
    assert found[local_worker_offset(v)][-1] == "local_worker"


def test_debuglink_with_wrong_crc_is_refused(build: Path, tmp_path: Path) -> None:
    v = build_variant(build / "crc", "crc", debuglink=True)
    binary = tmp_path / v.stripped.name
    shutil.copy(v.stripped, binary)
    stale = tmp_path / v.debug.name
    shutil.copy(v.debug, stale)
    with open(stale, "r+b") as f:  # change one byte of a string: same build id, other CRC
        data = f.read()
        at = data.index(b"local_worker")
        f.seek(at)
        f.write(b"L")
    found, warnings = names(v, binary, tmp_path)
    assert local_worker_offset(v) not in found
    assert found[exported_offset(v)] == ["exported_driver"]
    assert len(warnings) == 1 and "does not match" in warnings[0] and "CRC32" in warnings[0]
    assert warnings[0].count(".") >= 1 and "\n" not in warnings[0]


def test_debug_file_of_another_build_is_refused(build: Path, tmp_path: Path) -> None:
    v = build_variant(build / "mine", "mine")
    other = build_variant(build / "other", "other")
    root = tmp_path / "root"
    target = Path(build_id_path(str(root), v.build_id))
    target.parent.mkdir(parents=True)
    shutil.copy(other.debug, target)  # at v's build-id path, but carries other's build id
    found, warnings = names(v, v.stripped, tmp_path, debug_dirs=[str(root)])
    assert local_worker_offset(v) not in found
    assert found[exported_offset(v)] == ["exported_driver"]
    assert warnings == [
        f"The debug file {target} belongs to another build of {v.stripped} (build id"
        f" {other.build_id.hex()}, the image has {v.build_id.hex()}), so it was ignored."
    ]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "bad-dwarf"])
def test_damaged_debug_file_warns_once_and_others_resolve(
    build: Path, tmp_path: Path, damage: str
) -> None:
    v = build_variant(build / f"dmg-{damage}", f"dmg_{damage.replace('-', '_')}")
    root = tmp_path / "root"
    target = Path(build_id_path(str(root), v.build_id))
    target.parent.mkdir(parents=True)
    data = v.debug.read_bytes()
    if damage == "garbage":
        data = b"this is not an ELF file\n" * 100
    elif damage == "truncated":
        data = data[:300]
    else:
        # keep the headers, wreck .debug_info and .debug_abbrev
        out = run("readelf", "-SW", v.debug)
        for name in (".debug_info", ".debug_abbrev"):
            row = next(line.split() for line in out.splitlines() if f" {name} " in line)
            offset, size = int(row[row.index(name) + 3], 16), int(row[row.index(name) + 4], 16)
            data = data[:offset] + b"\xff" * size + data[offset + size:]
    target.write_bytes(data)
    found, warnings = names(v, v.stripped, tmp_path, debug_dirs=[str(root)])
    assert found[exported_offset(v)][-1] == "exported_driver"
    assert len(warnings) == 1, warnings
    assert str(target) in warnings[0] and "\n" not in warnings[0]


def test_symbol_table_only_debug_file_names_local_functions(build: Path, tmp_path: Path) -> None:
    """A -g0 build's debug file has no DWARF, only .symtab: the order-200 source uses it."""
    d = build / "g0"
    v = build_variant(d, "g0", "-g0")
    assert b".debug_info" not in run("readelf", "-SW", v.debug).encode()
    root = tmp_path / "root"
    Path(build_id_path(str(root), v.build_id)).parent.mkdir(parents=True)
    shutil.copy(v.debug, build_id_path(str(root), v.build_id))
    offsets = [local_worker_offset(v)]
    found, warnings = symbolicate_like_core(elf_image(v.stripped, v.build_id), offsets,
                                            {"debug_dirs": [str(root)]}, tmp_path)
    assert warnings == []
    (info,) = found[offsets[0]]
    assert info.function == "local_worker" and info.symbol_offset == 4 and info.line is None


def _context(cache: Path):  # noqa: ANN202 - small local helper
    from stax.contracts import SymbolContext

    return SymbolContext(cache_dir=cache)
