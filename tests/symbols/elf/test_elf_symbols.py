"""The ELF symbol-table source against gcc-built objects, checked with nm and readelf."""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind
from stax.stack_table import Image
from stax_symbols.elf.elf_file import ElfReadError
from stax_symbols.elf.loaded_elf import load_elf
from stax_symbols.elf.memo import ElfMemo
from stax_symbols.elf.source import ElfSymbolSource
from tests.symbols.built_objects import Built, build_id_of, file_offset_of, load_segments, nm_functions, run

LIBC = Path("/lib/x86_64-linux-gnu/libc.so.6")


def image(path: Path | str, build_id: bytes | None = None, kind: ImageKind = ImageKind.ELF) -> Image:
    return Image(0, str(path), kind, build_id)


def context(tmp_path: Path) -> SymbolContext:
    return SymbolContext(cache_dir=tmp_path)


def source() -> ElfSymbolSource:
    return ElfSymbolSource(ElfMemo())  # a private memo: tests must not see each other's parses


@pytest.mark.parametrize(
    ("which", "functions"),
    [
        ("pie", ["prog_alpha", "prog_beta", "prog_static_helper", "main"]),
        ("no_pie", ["prog_alpha", "prog_beta", "prog_static_helper", "main"]),
        ("lib", ["demo_lib_work", "demo_lib_other", "demo_private_mix"]),
        ("lib_high_base", ["demo_lib_work", "demo_lib_other", "demo_private_mix"]),
    ],
)
def test_functions_resolve_to_nm_name_and_offset(
    built: Built, tmp_path: Path, which: str, functions: list[str]
) -> None:
    path = getattr(built, which)
    nm = nm_functions(path)
    offsets = {}
    for name in functions:
        vaddr, size = nm[name]
        assert size > 4, f"{name} too small for the test"
        start = file_offset_of(path, vaddr)
        offsets[start] = SymbolInfo(name, 0)
        offsets[start + 3] = SymbolInfo(name, 3)
        offsets[start + size - 1] = SymbolInfo(name, size - 1)
    ctx = context(tmp_path)
    answer = source().symbolicate(image(path), sorted(offsets), ctx)
    assert {o: list(chain) for o, chain in answer.items()} == {o: [i] for o, i in offsets.items()}
    assert ctx.warnings == []


def test_non_pie_offsets_are_not_addresses(built: Built) -> None:
    """Guard for the test above: in the non-PIE and high-base objects vaddr != file offset."""
    for path in (built.no_pie, built.lib_high_base):
        vaddr, _ = nm_functions(path)["prog_alpha" if path == built.no_pie else "demo_lib_work"]
        assert file_offset_of(path, vaddr) != vaddr


def test_stripped_library_resolves_exports_from_dynsym(built: Built, tmp_path: Path) -> None:
    assert "symtab" not in subprocess.run(
        ["readelf", "-SW", str(built.lib_stripped)], capture_output=True, text=True, check=True
    ).stdout
    exported = nm_functions(built.lib_stripped, dynamic=True)
    assert set(exported) >= {"demo_lib_work", "demo_lib_other"}
    full = nm_functions(built.lib)  # same code, so same addresses as the unstripped copy
    offsets = {name: file_offset_of(built.lib_stripped, exported[name][0]) + 2 for name in exported}
    private = file_offset_of(built.lib, full["demo_private_mix"][0]) + 2
    assert min(vaddr for vaddr, _ in exported.values()) < full["demo_private_mix"][0], "must follow an export"
    ctx = context(tmp_path)
    answer = source().symbolicate(image(built.lib_stripped), [*offsets.values(), private], ctx)
    for name, offset in offsets.items():
        assert list(answer[offset]) == [SymbolInfo(name, 2)]
    # A local function stripping removed lies past the end of a sized export: not named.
    assert private not in answer


def test_build_id_match_answers_and_mismatch_warns(built: Built, tmp_path: Path) -> None:
    vaddr, _ = nm_functions(built.lib)["demo_lib_work"]
    offset = file_offset_of(built.lib, vaddr)
    good = context(tmp_path)
    answer = source().symbolicate(image(built.lib, build_id_of(built.lib)), [offset], good)
    assert answer[offset][0].function == "demo_lib_work"
    assert good.warnings == []

    bad = context(tmp_path)
    assert source().symbolicate(image(built.lib, b"\x01" * 20), [offset], bad) == {}
    assert len(bad.warnings) == 1
    warning = bad.warnings[0]
    assert str(built.lib) in warning and "build id" in warning and "01010101" in warning
    assert warning.endswith(".") and "\n" not in warning


def test_deleted_suffix_needs_a_matching_build_id(built: Built, tmp_path: Path) -> None:
    vaddr, _ = nm_functions(built.lib)["demo_lib_other"]
    offset = file_offset_of(built.lib, vaddr)
    img = image(f"{built.lib} (deleted)", build_id_of(built.lib))
    assert source().symbolicate(img, [offset], context(tmp_path))[offset][0].function == "demo_lib_other"
    unverifiable = context(tmp_path)
    assert source().symbolicate(image(f"{built.lib} (deleted)"), [offset], unverifiable) == {}
    assert len(unverifiable.warnings) == 1 and "no build id was recorded" in unverifiable.warnings[0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (os.urandom(4096), "not an ELF file"),
        (b"\x7fELF" + os.urandom(4092), "damaged ELF file"),
        (None, "damaged ELF file"),  # a real library cut short after its headers
        (b"", "not an ELF file"),
    ],
)
def test_unreadable_files_warn_one_sentence(
    built: Built, tmp_path: Path, content: bytes | None, expected: str
) -> None:
    bad = tmp_path / "libx.so"
    bad.write_bytes(content if content is not None else built.lib.read_bytes()[:200])
    ctx = context(tmp_path)
    assert source().symbolicate(image(bad), [0x1000, 0x1234], ctx) == {}
    assert len(ctx.warnings) == 1
    warning = ctx.warnings[0]
    assert str(bad) in warning and expected in warning
    assert warning.endswith(".") and "\n" not in warning and "Traceback" not in warning


def test_missing_file_and_directory_warn(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    src = source()
    assert src.symbolicate(image(tmp_path / "gone.so"), [1], ctx) == {}
    assert src.symbolicate(image(tmp_path), [1], ctx) == {}
    assert len(ctx.warnings) == 2
    assert "no longer exists" in ctx.warnings[0] and "directory" in ctx.warnings[1]


def test_other_image_kinds_are_not_served(built: Built, tmp_path: Path) -> None:
    ctx = context(tmp_path)
    for kind in (ImageKind.KERNEL, ImageKind.VDSO, ImageKind.JIT, ImageKind.MACHO):
        assert source().symbolicate(image(built.lib, kind=kind), [0x1000], ctx) == {}
    assert source().symbolicate(image("[heap]"), [0x1000], ctx) == {}
    assert ctx.warnings == []


def test_memo_parses_once_and_notices_a_replaced_file(built: Built, tmp_path: Path) -> None:
    lib = tmp_path / "libdemo.so"
    shutil.copy(built.lib, lib)
    memo = ElfMemo()
    src = ElfSymbolSource(memo)
    vaddr, _ = nm_functions(lib)["demo_lib_work"]
    offset = file_offset_of(lib, vaddr)
    for _ in range(3):
        assert src.symbolicate(image(lib), [offset], context(tmp_path))[offset][0].function == "demo_lib_work"
    assert memo.parses == 1
    lib.unlink()
    shutil.copy(built.lib_high_base, lib)  # a different file at the same path
    high_vaddr, _ = nm_functions(lib)["demo_lib_work"]
    new_offset = file_offset_of(lib, high_vaddr)
    answer = src.symbolicate(image(lib), [new_offset], context(tmp_path))
    assert memo.parses == 2
    assert answer[new_offset][0] == SymbolInfo("demo_lib_work", 0)


def test_libc_answers_are_never_empty_and_match_nm(tmp_path: Path) -> None:
    """Sweep libc's executable segment: every answer is a real dynsym name containing the address."""
    if not LIBC.exists():
        pytest.skip(f"{LIBC} not on this system")
    text = max(load_segments(LIBC), key=lambda s: s.file_size if s.offset else 0)
    by_start: dict[int, set[str]] = {}  # versioned names (realpath@GLIBC_2.2.5) share a name
    for line in run("nm", "-D", "--defined-only", LIBC).splitlines():
        vaddr, kind, name = line.split()
        if kind in "TtWwi":
            by_start.setdefault(int(vaddr, 16), set()).add(name.split("@")[0])
    offsets = list(range(text.offset, text.offset + text.file_size, 61))
    answer = source().symbolicate(image(LIBC), offsets, context(tmp_path))
    assert len(answer) > len(offsets) // 4, "libc's exports should cover a good part of its text"
    for offset, chain in answer.items():
        (info,) = chain
        assert info.function
        assert info.symbol_offset is not None and info.symbol_offset >= 0
        start_vaddr = offset - text.offset + text.vaddr - info.symbol_offset
        assert info.function in by_start.get(start_vaddr, set()), (hex(offset), info)


def test_mutated_files_never_raise_anything_but_the_warning(built: Built) -> None:
    """Flip bytes (mostly in the headers) and truncate: parsing either works or says why."""
    original = built.lib.read_bytes()
    rng = random.Random(5)
    failures = 0
    for _ in range(300):
        data = bytearray(original)
        for _ in range(rng.randrange(1, 16)):
            position = rng.randrange(0x100) if rng.random() < 0.5 else rng.randrange(len(data))
            data[position] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        try:
            load_elf(io.BytesIO(bytes(data)), "libx.so").symbolicate(range(0, 0x2000, 7))
        except ElfReadError as exc:
            failures += 1
            assert str(exc).startswith("Cannot read symbols from libx.so: ")
    assert 0 < failures < 300
