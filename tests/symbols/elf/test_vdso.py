"""The vDSO source, checked against readelf on a dump of the vDSO and against the dynamic linker."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest

from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind
from stax.stack_table import Image
from stax_symbols.kernel.vdso import VdsoSource
from tests.symbols.built_objects import build_id_of, load_segments, run

VDSO = Image(0, "[vdso]", ImageKind.VDSO)


def vdso_range() -> tuple[int, int]:
    for line in Path("/proc/self/maps").read_text().splitlines():
        if line.split()[-1] == "[vdso]":
            start, end = line.split()[0].split("-")
            return int(start, 16), int(end, 16)
    pytest.skip("this process has no [vdso]")


@pytest.fixture(scope="module")
def dumped_vdso(tmp_path_factory: pytest.TempPathFactory) -> Path:
    start, end = vdso_range()
    fd = os.open("/proc/self/mem", os.O_RDONLY)
    try:
        data = os.pread(fd, end - start, start)
    finally:
        os.close(fd)
    path = tmp_path_factory.mktemp("vdso") / "vdso.so"
    path.write_bytes(data)
    return path


def readelf_offset(path: Path, symbol: str) -> tuple[int, int]:
    """(file offset, size) of ``symbol`` by readelf: its value converted through PT_LOAD."""
    for line in run("readelf", "-sW", path).splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[7].split("@")[0] == symbol:
            value, size = int(parts[1], 16), int(parts[2])
            for seg in load_segments(path):
                if seg.vaddr <= value < seg.vaddr + seg.file_size:
                    return value - seg.vaddr + seg.offset, size
    raise AssertionError(f"readelf found no {symbol} in the vDSO")


def test_clock_gettime_resolves(dumped_vdso: Path, tmp_path: Path) -> None:
    offset, size = readelf_offset(dumped_vdso, "__vdso_clock_gettime")
    assert size > 8
    ctx = SymbolContext(cache_dir=tmp_path)
    answer = VdsoSource().symbolicate(VDSO, [offset, offset + 7], ctx)
    assert list(answer[offset]) == [SymbolInfo("__vdso_clock_gettime", 0)]
    assert list(answer[offset + 7]) == [SymbolInfo("__vdso_clock_gettime", 7)]
    assert ctx.warnings == []


def test_agrees_with_the_dynamic_linker(tmp_path: Path) -> None:
    """glibc resolves vDSO symbols itself; its address minus the mapping start is our offset."""
    try:
        vdso = ctypes.CDLL("linux-vdso.so.1", mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        address = ctypes.cast(vdso.__vdso_clock_gettime, ctypes.c_void_p).value
    except (OSError, AttributeError):
        pytest.skip("the dynamic linker does not expose the vDSO here")
    assert address is not None
    start, _ = vdso_range()
    answer = VdsoSource().symbolicate(VDSO, [address - start], SymbolContext(cache_dir=tmp_path))
    assert list(answer[address - start]) == [SymbolInfo("__vdso_clock_gettime", 0)]


def test_build_id_mismatch_warns(dumped_vdso: Path, tmp_path: Path) -> None:
    offset, _ = readelf_offset(dumped_vdso, "__vdso_clock_gettime")
    src = VdsoSource()
    same = Image(0, "[vdso]", ImageKind.VDSO, build_id_of(dumped_vdso))
    assert offset in src.symbolicate(same, [offset], SymbolContext(cache_dir=tmp_path))
    ctx = SymbolContext(cache_dir=tmp_path)
    other = Image(0, "[vdso]", ImageKind.VDSO, b"\x02" * 20)
    assert src.symbolicate(other, [offset], ctx) == {}
    assert len(ctx.warnings) == 1 and "[vdso]" in ctx.warnings[0] and "build id" in ctx.warnings[0]


def test_missing_vdso_warns(tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    maps.write_text("00400000-00401000 r-xp 00000000 08:01 1 /bin/true\n")
    ctx = SymbolContext(cache_dir=tmp_path)
    assert VdsoSource(maps, tmp_path / "mem").symbolicate(VDSO, [0x10], ctx) == {}
    assert len(ctx.warnings) == 1 and "has none" in ctx.warnings[0]
