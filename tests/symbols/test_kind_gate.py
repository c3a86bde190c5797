"""The Mach-O symbol sources are built only for Mach-O images (stax_symbols.kind_gate)."""

from __future__ import annotations

from pathlib import Path

from stax.contracts import SymbolContext
from stax.events import ImageKind
from stax.stack_table import Image
from stax_symbols import plugin
from stax_symbols.kind_gate import KindGatedSource
from stax_symbols.macho.dwarf_source import MachoDwarfSource
from stax_symbols.macho.symbol_source import MachoSymbolSource
from tests.imported_modules import imported_modules


def test_gate_name_and_order_are_the_sources_own() -> None:
    for entry, cls in ((plugin.macho_dwarf, MachoDwarfSource), (plugin.macho_symbols, MachoSymbolSource)):
        gate = entry.source()
        assert isinstance(gate, KindGatedSource)
        assert (gate.name, gate.order) == (cls.name, cls.order)


def test_an_elf_image_does_not_build_the_macho_sources(tmp_path: Path) -> None:
    gate = KindGatedSource(lambda: (_ for _ in ()).throw(AssertionError("built")), ImageKind.MACHO, "x", 1)
    context = SymbolContext(cache_dir=tmp_path, options={})
    elf = Image(1, "/bin/true", ImageKind.ELF, b"\x01" * 20)
    assert gate.symbolicate(elf, [0x10], context) == {}
    assert gate.cache_token(elf, context) is None
    assert not gate.built


def test_symbolicating_elf_frames_imports_no_macholib() -> None:
    code = ("import sys, pathlib\n"
            "from stax.plugin_manager import StaxPlugins\n"
            "from stax.contracts import SymbolContext\n"
            "from stax.events import ImageKind\n"
            "from stax.stack_table import Image\n"
            "ctx = SymbolContext(cache_dir=pathlib.Path('/tmp'), options={})\n"
            "image = Image(1, sys.executable, ImageKind.ELF, None)\n"
            "for s in StaxPlugins().symbol_sources():\n"
            "    s.symbolicate(image, [0], ctx)\n")
    assert imported_modules(code, ("macholib", "stax_symbols.macho")) == []
