"""The stax-symbols plugins: one plugin object, and one ``stax`` entry point, per source.

Separate entry points let ``stax plugins`` list each source, and let a user switch one
off (``STAX_PLUGINS``) while debugging a wrong name.  Each object builds its source on
first use, so loading plugins imports no parser.

Sources run in ``order`` (lower first; first answer per address wins).  The bands:
100s DWARF line/inline tables (ELF 100, Mach-O dSYMs 105), 200s separate debug files, 300s
symbol tables (ELF .symtab/.dynsym 300, Mach-O nlist 305, kallsyms 310, vDSO 320), 400s
network (debuginfod), so cheap exact tables answer before anything slow.  Sources of one
band serve disjoint image kinds.  The JIT sources (jitdump 150, perf maps 160) serve only
per-process JIT/[unknown] images, which no other source reads.

The Mach-O sources are gated by image kind (:mod:`stax_symbols.kind_gate`): built, and
their modules imported, only when a Mach-O image needs names.

The code source (``code-elf``) reads functions' machine code for annotated disassembly
through the same debug-file search and memos.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import stax
from stax.contracts import CodeSource, SymbolSource
from stax.events import ImageKind
from stax_symbols.kind_gate import KindGatedSource


class SymbolSourcePlugin:
    """A pluggy plugin that offers exactly one symbol source, created once, lazily."""

    def __init__(self, factory: Callable[[], SymbolSource]) -> None:
        self._factory = factory
        self._source: SymbolSource | None = None

    def source(self) -> SymbolSource:
        if self._source is None:
            self._source = self._factory()
        return self._source

    @stax.hookimpl
    def stax_symbol_sources(self) -> Sequence[SymbolSource]:
        """Return this plugin's one source (the same object every pass, so its memo lives on)."""
        return [self.source()]


class CodeSourcePlugin:
    """A pluggy plugin that offers exactly one code source, created once, lazily."""

    def __init__(self, factory: Callable[[], CodeSource]) -> None:
        self._factory = factory
        self._source: CodeSource | None = None

    @stax.hookimpl
    def stax_code_sources(self) -> Sequence[CodeSource]:
        """Return this plugin's one code source."""
        if self._source is None:
            self._source = self._factory()
        return [self._source]


def _elf_code() -> CodeSource:
    from stax_symbols.elf.code_source import ElfCodeSource

    return ElfCodeSource()


def _elf_symbols() -> SymbolSource:
    from stax_symbols.elf.source import ElfSymbolSource

    return ElfSymbolSource()


def _kallsyms() -> SymbolSource:
    from stax_symbols.kernel.kallsyms import KallsymsSource

    return KallsymsSource()


def _vdso() -> SymbolSource:
    from stax_symbols.kernel.vdso import VdsoSource

    return VdsoSource()


def _dwarf() -> SymbolSource:
    from stax_symbols.dwarf.source import DwarfSymbolSource

    return DwarfSymbolSource()


def _debug_file_symbols() -> SymbolSource:
    from stax_symbols.debug_files.source import DebugFileSymbolSource

    return DebugFileSymbolSource()


def _debuginfod() -> SymbolSource:
    from stax_symbols.debuginfod.source import DebuginfodExecutableSource

    return DebuginfodExecutableSource()


def _macho_symbols() -> SymbolSource:
    from stax_symbols.macho.symbol_source import MachoSymbolSource

    return MachoSymbolSource()


def _macho_dwarf() -> SymbolSource:
    from stax_symbols.macho.dwarf_source import MachoDwarfSource

    return MachoDwarfSource()


def _jitdump() -> SymbolSource:
    from stax_symbols.jit.jitdump_source import JitdumpSource

    return JitdumpSource()


def _perf_map() -> SymbolSource:
    from stax_symbols.jit.perf_map_source import PerfMapSource

    return PerfMapSource()


elf_symbols = SymbolSourcePlugin(_elf_symbols)
"""Entry point ``symbols-elf``: .symtab/.dynsym of executables and shared libraries."""
kallsyms = SymbolSourcePlugin(_kallsyms)
"""Entry point ``symbols-kallsyms``: kernel and module functions from /proc/kallsyms."""
vdso = SymbolSourcePlugin(_vdso)
"""Entry point ``symbols-vdso``: the vDSO, read from this process's own copy."""
jitdump = SymbolSourcePlugin(_jitdump)
"""Entry point ``symbols-jitdump``: JIT code (names and lines) from the jit-PID.dump a process mapped."""
perf_map = SymbolSourcePlugin(_perf_map)
"""Entry point ``symbols-perf-map``: JIT code names from /tmp/perf-PID.map."""
dwarf = SymbolSourcePlugin(_dwarf)
"""Entry point ``symbols-dwarf``: names, inline chains and file:line from DWARF, wherever it is."""
debug_file_symbols = SymbolSourcePlugin(_debug_file_symbols)
"""Entry point ``symbols-debug-file``: .symtab of a stripped image's separate debug file."""
macho_symbols = SymbolSourcePlugin(
    lambda: KindGatedSource(_macho_symbols, ImageKind.MACHO, "macho-symbols", 305))
"""Entry point ``symbols-macho``: Mach-O nlist tables, from files or the dyld shared cache."""
macho_dwarf = SymbolSourcePlugin(lambda: KindGatedSource(_macho_dwarf, ImageKind.MACHO, "macho-dwarf", 105))
"""Entry point ``symbols-macho-dwarf``: names, inline chains and file:line from a Mach-O image's dSYM."""
debuginfod = SymbolSourcePlugin(_debuginfod)
"""Entry point ``symbols-debuginfod``: symbol tables of debuginfod's copy of a vanished executable."""
elf_code = CodeSourcePlugin(_elf_code)
"""Entry point ``code-elf``: machine code, line rows and inlines of ELF functions, for annotate."""
