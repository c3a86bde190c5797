"""A few addresses in a big debug file cost milliseconds, not seconds, and the fast readers
read the same bytes as pyelftools.

libc6-dbg's libc (~2,000 units) is the real case: a recording of any program samples a few
libc addresses, and they are seldom the same twice, so the build-id cache does not help.
The bound is generous (a loaded 2-core machine); ``pytest -s`` prints the figure.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from stax.contracts import SymbolContext
from stax.events import ImageKind
from stax.stack_table import Image
from stax_binfmt.debug_files import build_id_path
from stax_symbols.debug_files.locator import DebugFileLocator
from stax_symbols.dwarf.forms import read_abbrev, read_abbrev_table
from stax_symbols.dwarf.memo import DwarfMemo
from stax_symbols.dwarf.sections import _WANTED, has_debug_info, read_dwarf_sections
from stax_symbols.dwarf.source import DwarfSymbolSource
from stax_symbols.dwarf.units import DwarfUnits
from stax_symbols.elf.memo import ElfMemo
from tests.symbols.built_objects import build_id_of, file_offset_of, nm_functions
from tests.symbols.debug_workload import addr2line_chains, as_chain, build_variant, run

LIBC = Path("/lib/x86_64-linux-gnu/libc.so.6")
LIBC_FUNCTIONS = ("__libc_start_call_main", "write", "exit", "malloc", "free")


def libc_debug_file() -> Path:
    if not LIBC.exists():
        pytest.skip(f"no {LIBC} here")
    debug = Path(build_id_path("/usr/lib/debug", build_id_of(LIBC)))
    if not debug.exists():
        pytest.skip("libc's debug file is not installed (apt-get install libc6-dbg)")
    return debug


def test_few_libc_addresses_cold(tmp_path: Path) -> None:
    debug = libc_debug_file()
    exported = nm_functions(LIBC, dynamic=True)
    local = nm_functions(debug)
    addresses = [(exported.get(name) or local[name])[0] + 4 for name in LIBC_FUNCTIONS]
    offsets = {file_offset_of(LIBC, a): a for a in addresses}
    memo = ElfMemo()
    dwarf_memo = DwarfMemo()
    source = DwarfSymbolSource(DebugFileLocator(memo), dwarf_memo, memo)
    context = SymbolContext(cache_dir=tmp_path, options={"debuginfod": False, "debug_dirs": []})
    started = time.perf_counter()
    found = source.symbolicate(Image(0, str(LIBC), ImageKind.ELF, build_id_of(LIBC)), list(offsets), context)
    elapsed = time.perf_counter() - started
    resolver = dwarf_memo.load(str(debug))
    print(f"\n{len(offsets)} libc addresses cold: {elapsed * 1e3:.0f} ms;"
          f" {resolver.units.units_ready} of {len(resolver.units.units)} units read")
    assert context.warnings == []
    # Functions and lines; binutils 2.40 prints the unit's own file for some DWARF 5 rows
    # (libc_start_call_main.h's here), where objdump --dwarf=decodedline agrees with stax.
    expected = addr2line_chains(debug, addresses)
    assert {a: [(f, line) for f, _, line in as_chain(found[o])] for o, a in offsets.items()} == \
        {a: [(f, line) for f, _, line in expected[a]] for a in addresses}
    assert resolver.units.units_ready <= 2 * len(addresses)
    assert elapsed < 1.0


@pytest.fixture(scope="module")
def elf_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Debug info plain, zlib-compressed, 32-bit and split; a stripped file has none."""
    d = tmp_path_factory.mktemp("sections")
    v = build_variant(d, "sections")
    compressed = d / "compressed"
    run("objcopy", "--compress-debug-sections=zlib", v.twin, compressed)
    files = [v.twin, compressed, v.debug, v.stripped]
    m32 = d / "m32"
    try:
        run("gcc", "-m32", "-g", "-O1", "-o", m32, d / "sections.c")
        files.append(m32)
    except Exception:  # noqa: BLE001 - no 32-bit libc here: the 64-bit files still count
        pass
    if LIBC.exists() and Path(build_id_path("/usr/lib/debug", build_id_of(LIBC))).exists():
        files.append(libc_debug_file())
    return files


def test_sections_are_what_pyelftools_reads(elf_files: list[Path]) -> None:
    for path in elf_files:
        with open(path, "rb") as stream:
            ours = read_dwarf_sections(stream)
            stream.seek(0)
            elf = ELFFile(stream)
            for name, field in _WANTED.items():
                section = elf.get_section_by_name(name)
                present = section is not None and section.header.sh_type != "SHT_NOBITS"
                want = section.data() if present else b""
                assert getattr(ours, field) == want, f"{path.name} {name}"
            assert ours.little_endian == elf.little_endian and ours.address_size == elf.elfclass // 8
            stream.seek(0)
            info = elf.get_section_by_name(".debug_info")
            assert has_debug_info(stream) == (info is not None and info.header.sh_type != "SHT_NOBITS")


def test_one_abbreviation_is_the_tables(elf_files: list[Path]) -> None:
    """The top-DIE shortcut (one declaration) reads what the whole table says."""
    for path in elf_files:
        with open(path, "rb") as stream:
            sections = read_dwarf_sections(stream)
        if not sections.info:
            continue
        units = DwarfUnits(sections)
        for unit in units.units[:: max(1, len(units.units) // 50)]:
            table = read_abbrev_table(sections.abbrev, unit.abbrev_offset, unit.enc)
            for code in (*list(table)[:3], *list(table)[-2:], max(table) + 1):
                assert read_abbrev(sections.abbrev, unit.abbrev_offset, code, unit.enc) == table.get(code)
