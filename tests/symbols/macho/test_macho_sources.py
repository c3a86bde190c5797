"""The Mach-O symbol sources name recorded frames (``ImageKind.MACHO``, offsets from the
mach header, UUID as build id) the way a macOS recording or a ktrace import will hand them over."""

from __future__ import annotations

import shutil
from pathlib import Path

from stax.events import ImageKind
from stax.plugin_manager import StaxPlugins
from stax.stack_table import Image
from stax_symbols.macho.macho_file import open_macho
from tests.cli.conftest import stax
from tests.symbols.debug_workload import as_chain, symbolicate_like_core
from tests.symbols.macho.macho_build import MachoBuild, instruction_addresses, run, symbolizer_chains, tool

TEXT = 0x100000000


def _uuid(path: Path, arch: str | None = None) -> bytes:
    return open_macho(str(path)).select(arch=arch).image.uuid


def test_sources_are_registered_in_their_bands() -> None:
    orders = {s.name: s.order for s in StaxPlugins().symbol_sources()}
    assert orders["macho-dwarf"] == 105 and orders["macho-symbols"] == 305
    assert orders["dwarf"] < orders["macho-dwarf"] < orders["debug-file-symbols"] < orders["macho-symbols"]


def test_recorded_frames_get_inline_chains_from_the_dsym(macho: MachoBuild, tmp_path: Path) -> None:
    binary = macho.binaries["arm64"]
    addresses = instruction_addresses(binary)
    theirs = symbolizer_chains(binary, addresses)
    image = Image(1, str(binary), ImageKind.MACHO, _uuid(binary))
    found, warnings = symbolicate_like_core(image, [a - TEXT for a in addresses], {}, tmp_path)
    assert warnings == []
    for address in addresses:
        want = theirs[address]
        got = as_chain(found[address - TEXT])
        assert got == (want if want[0][1] else [(want[0][0], None, None)]), hex(address)
    # the universal binary, recorded by its x86_64 UUID, picks that slice by itself
    x86 = macho.binaries["x86_64"]
    image = Image(2, str(macho.fat), ImageKind.MACHO, _uuid(x86))
    address = next(a for a, c in symbolizer_chains(x86, instruction_addresses(x86)).items() if len(c) == 3)
    found, warnings = symbolicate_like_core(image, [address - TEXT], {}, tmp_path)
    assert warnings == [] and len(found[address - TEXT]) == 3


def test_function_starts_keep_a_stripped_local_unnamed(macho: MachoBuild, tmp_path: Path) -> None:
    """lib_private loses its name to ``strip -x``; LC_FUNCTION_STARTS still says a function
    starts there, so its addresses stay unresolved instead of being called lib_public."""
    stripped = tmp_path / "libdemo.dylib"
    shutil.copy(macho.dylib, stripped)  # no dSYM beside it
    run(tool("llvm-strip", "llvm-strip-14"), "-x", stripped)
    symbols = {
        parts[2]: int(parts[0], 16)
        for parts in map(str.split, run(tool("llvm-nm"), macho.dylib).splitlines())
    }
    private, public = symbols["_lib_private"], symbols["_lib_public"]
    image = Image(1, str(stripped), ImageKind.MACHO, _uuid(stripped))
    found, warnings = symbolicate_like_core(image, [public + 4, private + 4], {}, tmp_path)
    assert warnings == []
    assert as_chain(found[public + 4]) == [("lib_public", None, None)]
    assert found[public + 4][0].symbol_offset == 4
    assert private + 4 not in found
    shutil.copy(macho.dylib, tmp_path / "unstripped.dylib")
    full = Image(2, str(tmp_path / "unstripped.dylib"), ImageKind.MACHO, _uuid(macho.dylib))
    found, _ = symbolicate_like_core(full, [private + 4], {}, tmp_path)
    assert as_chain(found[private + 4]) == [("lib_private", None, None)]


def test_a_file_of_another_build_is_refused(
    macho: MachoBuild, macho_other: MachoBuild, tmp_path: Path
) -> None:
    binary = macho.binaries["arm64"]
    recorded = _uuid(macho_other.binaries["arm64"])
    image = Image(1, str(binary), ImageKind.MACHO, recorded)
    found, warnings = symbolicate_like_core(image, [0x400], {}, tmp_path)
    assert found == {}
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{binary} is not the file that was recorded (UUID ")
    assert warnings[0].endswith("so it is not used; reinstall the recorded version to name its frames.")


def test_a_missing_dylib_without_cache_is_one_sentence(tmp_path: Path) -> None:
    image = Image(1, "/usr/lib/libgone.dylib", ImageKind.MACHO, bytes(range(16)))
    found, warnings = symbolicate_like_core(image, [0x10], {}, tmp_path)
    assert found == {}
    assert warnings == [
        "Cannot read symbols from /usr/lib/libgone.dylib: the file does not exist and no dyld shared"
        " cache searched has UUID 00010203-0405-0607-0809-0A0B0C0D0E0F; name the cache with"
        " STAX_DYLD_SHARED_CACHE=PATH."
    ]


def test_damaged_files_give_sentences_never_exceptions(macho: MachoBuild, tmp_path: Path) -> None:
    """Random damage to the headers and load commands of a binary and its dSYM: every source
    answers or warns, nothing raises (a seeded loop, so a failure is reproducible)."""
    import random

    from stax.contracts import SymbolContext
    from stax_symbols.macho.dwarf_source import MachoDwarfSource
    from stax_symbols.macho.memo import PROCESS_MACHO_MEMO
    from stax_symbols.macho.symbol_source import PROCESS_MACHO_IMAGES, MachoSymbolSource

    original = macho.binaries["arm64"].read_bytes()
    dsym = (macho.binaries["arm64"].parent / "prog-arm64.dSYM" / "Contents" / "Resources" / "DWARF"
            / "prog-arm64").read_bytes()
    rng = random.Random(15)
    binary = tmp_path / "prog-arm64"
    dwarf = tmp_path / "prog-arm64.dSYM" / "Contents" / "Resources" / "DWARF" / "prog-arm64"
    dwarf.parent.mkdir(parents=True)
    sources = [MachoDwarfSource(), MachoSymbolSource()]
    for _ in range(150):
        for path, data in ((binary, original), (dwarf, dsym)):
            damaged = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                damaged[rng.randrange(0, 1200)] = rng.randrange(256)
            if rng.random() < 0.2:
                damaged = damaged[: rng.randrange(16, len(damaged))]
            path.write_bytes(bytes(damaged))
        PROCESS_MACHO_MEMO.clear()
        PROCESS_MACHO_IMAGES.clear()
        context = SymbolContext(cache_dir=tmp_path)
        image = Image(1, str(binary), ImageKind.MACHO, None)
        for source in sources:
            source._resolvers.clear() if isinstance(source, MachoDwarfSource) else None
            source.symbolicate(image, [0x3d0, 0x400, 0x10], context)
        assert all(w and "\n" not in w for w in context.warnings)
    proc = stax("symbolize", str(binary), "0x100000400", check=False)
    assert "Traceback" not in proc.stderr
