"""The ELF code source: a sampled function's bytes, lines and inlines, for annotated disassembly.

A function is the symbol-table range holding the sampled address (the image's .symtab,
else its separate debug file's, else .dynsym; the policy of :mod:`.function_table`).
Its bytes come from the image file found by :mod:`stax_symbols.debug_files.locator` - the file at the
recorded path only while its build id matches, else debuginfod's copy - so a rebuilt
binary never lends its code to an old recording.  Lines and inlines are cut from the
DWARF symbolication already parsed (:mod:`stax_symbols.dwarf.function_slice`); direct branch and call
targets outside the function are named from the same symbol tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from stax.contracts import SymbolContext
from stax.events import ImageKind
from stax.function_code import CodeStatus, FunctionCode, SymbolRange
from stax_symbols.code_arch import arch_of_elf_machine
from stax_symbols.debug_files.locator import PROCESS_LOCATOR, DebugFileLocator
from stax_symbols.dwarf.forms import DwarfError
from stax_symbols.dwarf.function_slice import function_inlines, function_lines
from stax_symbols.dwarf.memo import PROCESS_DWARF_MEMO, DwarfMemo
from stax_symbols.dwarf.resolver import DwarfResolver
from stax_symbols.dwarf.source import debug_info_token
from stax_symbols.elf.elf_file import ElfReadError
from stax_symbols.elf.loaded_elf import LoadedElf
from stax_symbols.elf.memo import PROCESS_MEMO, ElfMemo
from stax_symbols.symbol_table import SymbolTable

if TYPE_CHECKING:
    from stax.stack_table import Image

ELF_CODE_ORDER = 100


class ElfCodeSource:
    """Reads functions of ``ImageKind.ELF`` images (x86_64 and aarch64 code)."""

    name = "elf-code"
    order = ELF_CODE_ORDER

    def __init__(
        self,
        locator: DebugFileLocator | None = None,
        elf_memo: ElfMemo | None = None,
        dwarf_memo: DwarfMemo | None = None,
    ) -> None:
        self.locator = locator or PROCESS_LOCATOR
        self.elf_memo = elf_memo or PROCESS_MEMO
        self.dwarf_memo = dwarf_memo or PROCESS_DWARF_MEMO

    def cache_token(self, image: Image, context: SymbolContext) -> str | None:
        """What debug info the line and inline slices would come from (as the DWARF source's)."""
        if image.kind is not ImageKind.ELF or image.build_id is None:
            return None
        return debug_info_token(image, context, self.locator)

    def function_code(
        self, image: Image, offsets: Sequence[int], context: SymbolContext, max_bytes: int
    ) -> Sequence[FunctionCode]:
        """The functions holding ``offsets`` (file offsets), one per function."""
        if image.kind is not ImageKind.ELF or not offsets:
            return []
        files = self.locator.locate(image, context)
        if files.image_file is None:
            return []  # gone, or another build now: nothing here may describe the recording
        try:
            loaded = self.elf_memo.load(files.image_file)
        except ElfReadError as exc:
            context.warn(str(exc))
            return []
        if loaded.build_id_mismatch(image.build_id) is not None:
            return []
        arch = arch_of_elf_machine(loaded.machine)
        if arch is None:
            return []
        tables = self._symbol_tables(loaded, files.symbols_file)
        resolver = self._resolver(files.dwarf_file, context)
        out: list[FunctionCode] = []
        for offset in sorted(offsets):
            if any(f.contains_offset(offset) for f in out):
                continue
            function = self._function(loaded, files.image_file, tables, resolver, arch, offset, max_bytes)
            if function is not None:
                out.append(function)
        return out

    def _function(
        self, loaded: LoadedElf, path: str, tables: list[SymbolTable], resolver: DwarfResolver | None,
        arch: str, offset: int, max_bytes: int,
    ) -> FunctionCode | None:
        vaddr = loaded.segments.vaddr_for_offset(offset)
        if vaddr is None:
            return None
        hit = next((r for table in tables if (r := table.range_at(vaddr)) is not None), None)
        if hit is None:
            return None
        name, start, end = hit
        size = end - start
        start_offset = offset - (vaddr - start)
        # the whole function must be file bytes of one segment, mapped where it was linked
        if start_offset < 0 or loaded.segments.vaddr_for_offset(start_offset) != start or \
                loaded.segments.vaddr_for_offset(start_offset + size - 1) != end - 1:
            return None
        if size > max_bytes:
            return FunctionCode(name, start_offset, start, size, arch, None, CodeStatus.TOO_LARGE)
        try:
            with open(path, "rb") as stream:
                stream.seek(start_offset)
                code = stream.read(size)
        except OSError:
            return None
        if len(code) != size:
            return None
        lines = inlines = ()
        if resolver is not None:
            try:
                lines = function_lines(resolver, start, end)
                inlines = function_inlines(resolver, start, end)
            except (DwarfError, IndexError, ValueError, KeyError):
                lines = inlines = ()  # damaged DWARF: the code is still worth keeping
        symbols = _target_symbols(arch, code, start, end, tables)
        return FunctionCode(name, start_offset, start, size, arch, code, CodeStatus.KEPT,
                            lines, inlines, symbols)

    def _symbol_tables(self, loaded: LoadedElf, symbols_file: str | None) -> list[SymbolTable]:
        tables = [loaded.functions]
        if symbols_file is not None and symbols_file != loaded.label:
            try:
                tables.insert(0, self.elf_memo.load(symbols_file).functions)
            except ElfReadError:
                pass
        return [t for t in tables if len(t)]

    def _resolver(self, dwarf_file: str | None, context: SymbolContext) -> DwarfResolver | None:
        if dwarf_file is None:
            return None
        try:
            return self.dwarf_memo.load(dwarf_file)
        except DwarfError as exc:
            context.warn(str(exc))
            return None


def _target_symbols(arch: str, code: bytes, start: int, end: int,
                    tables: list[SymbolTable]) -> tuple[SymbolRange, ...]:
    """The symbols that the function's direct branches and calls outside itself land in."""
    from stax.analysis.disassembly import UnsupportedArchitecture, disassembler  # capstone: ~30 ms

    try:
        targets = disassembler(arch).direct_targets(code, start)
    except UnsupportedArchitecture:
        return ()
    found: dict[int, SymbolRange] = {}
    for target in targets:
        if start <= target < end:
            continue
        for table in tables:
            hit = table.range_at(target)
            if hit is not None:
                name, low, high = hit
                found.setdefault(low, SymbolRange(low, high - low, name))
                break
    return tuple(sorted(found.values(), key=lambda s: s.address))
