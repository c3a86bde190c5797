"""Which ELF image (and its unwind tables) a pc belongs to, in one process's address space.

The capture side builds one :class:`ModuleResolver` per process from its
executable mappings — the same (start, end, file offset, path) that
:class:`stax.events.ImageLoad` carries — and hands it to
:func:`stax_backend_linux.unwind.unwind`.  A pc maps to an ELF virtual address by
the mapping's *bias*: ``vaddr = pc - bias`` where
``bias = start - (p_vaddr + file_offset - p_offset)`` for the PT_LOAD segment that
holds ``file_offset`` (System V gABI, "Program Loading").
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable

from stax.events import ImageKind, ImageLoad
from stax_backend_linux.unwind.elf_unwind_tables import (
    ElfUnwindTables,
    UnwindTableCache,
    default_table_cache,
)
from stax_binfmt.cfi.unwind_row import UnwindRow

_MISSING = object()


class Module:
    """One executable mapping: ``start <= pc < end`` is ``path`` at ``vaddr = pc - bias``.

    With a ``loader`` the tables (and the bias they decide) are read on the first lookup in
    the mapping: a process maps dozens of libraries, a sample touches a few.
    """

    __slots__ = ("start", "end", "file_offset", "path", "bias", "tables", "loader")

    def __init__(
        self, start: int, end: int, file_offset: int, path: str, bias: int, tables: ElfUnwindTables | None,
        loader: Callable[[], ElfUnwindTables | None] | None = None,
    ) -> None:
        self.start = start
        self.end = end
        self.file_offset = file_offset
        self.path = path
        self.bias = bias
        self.tables = tables
        self.loader = loader

    def load(self) -> None:
        """Read the tables through the loader (once) and set the bias from their segments."""
        loader, self.loader = self.loader, None
        if loader is None:
            return
        tables = loader()
        self.tables = tables
        if tables is not None:
            vaddr = tables.vaddr_for_file_offset(self.file_offset)
            if vaddr is not None:
                self.bias = self.start - vaddr

    def __repr__(self) -> str:
        return f"Module({self.path!r}, {self.start:#x}-{self.end:#x}, bias={self.bias:#x})"


class ModuleResolver:
    """The executable mappings of one process, with a per-pc cache of unwind rows."""

    def __init__(self, table_cache: UnwindTableCache | None = None) -> None:
        self.table_cache = table_cache if table_cache is not None else default_table_cache()
        self._starts: list[int] = []
        self._modules: list[Module] = []
        self.row_cache: dict[int, UnwindRow | None] = {}
        """Absolute pc -> row (None: no CFI); the unwinder reads it directly."""

    # -- construction ---------------------------------------------------------------

    def add_mapping(
        self,
        start: int,
        end: int,
        file_offset: int,
        path: str,
        *,
        tables: ElfUnwindTables | None | object = _MISSING,
        loader: Callable[[], ElfUnwindTables | None] | None = None,
    ) -> Module:
        """Add an executable mapping; a new mapping replaces whatever it overlaps.

        ``tables`` defaults to the cached tables of ``path`` (None for ``[anon]``-style
        names); pass them explicitly for images without a file, e.g. ``[vdso]``, or pass a
        ``loader`` that reads them on the first lookup in this mapping.
        """
        if loader is not None:
            tables = None
        elif tables is _MISSING:
            tables = self.table_cache.get(path) if path.startswith("/") else None
        assert tables is None or isinstance(tables, ElfUnwindTables)
        bias = start - file_offset
        if tables is not None:
            vaddr = tables.vaddr_for_file_offset(file_offset)
            if vaddr is not None:
                bias = start - vaddr
        module = Module(start, end, file_offset, path, bias, tables, loader)
        keep = [m for m in self._modules if m.end <= start or m.start >= end]
        if len(keep) != len(self._modules):
            self._modules = keep
            self._starts = [m.start for m in keep]
        index = bisect.bisect_left(self._starts, start)
        self._starts.insert(index, start)
        self._modules.insert(index, module)
        self.row_cache.clear()
        return module

    @classmethod
    def from_image_loads(
        cls,
        loads: Iterable[ImageLoad],
        *,
        pid: int | None = None,
        table_cache: UnwindTableCache | None = None,
    ) -> ModuleResolver:
        """Build from image-load events (only ``pid``'s, when given), in event order."""
        resolver = cls(table_cache)
        for load in loads:
            if pid is not None and load.pid != pid:
                continue
            if load.kind in (ImageKind.KERNEL, ImageKind.MACHO):
                continue
            resolver.add_mapping(load.start, load.end, load.file_offset, load.path)
        return resolver

    @classmethod
    def from_proc_maps(cls, maps_text: str, *, table_cache: UnwindTableCache | None = None) -> ModuleResolver:
        """Build from the text of ``/proc/PID/maps`` (executable mappings only)."""
        resolver = cls(table_cache)
        for line in maps_text.splitlines():
            fields = line.split(None, 5)
            if len(fields) < 5 or "x" not in fields[1]:
                continue
            start_text, end_text = fields[0].split("-")
            path = fields[5].strip() if len(fields) == 6 else ""
            resolver.add_mapping(int(start_text, 16), int(end_text, 16), int(fields[2], 16), path)
        return resolver

    # -- lookup ---------------------------------------------------------------------

    @property
    def modules(self) -> list[Module]:
        return list(self._modules)

    def module_for(self, pc: int) -> Module | None:
        """The mapping that holds ``pc``, if any."""
        index = bisect.bisect_right(self._starts, pc) - 1
        if index >= 0:
            module = self._modules[index]
            if pc < module.end:
                return module
        return None

    def row_for(self, pc: int) -> UnwindRow | None:
        """The unwind row for an absolute pc (None: not mapped, or no CFI covers it).

        Raises :class:`~stax_binfmt.cfi.errors.UnwindTableError` on malformed CFI.
        """
        row = self.row_cache.get(pc, _MISSING)
        if row is _MISSING:
            module = self.module_for(pc)
            row = None
            if module is not None and module.loader is not None:
                module.load()
            if module is not None and module.tables is not None:
                row = module.tables.row_for(pc - module.bias)
            self.row_cache[pc] = row
        return row  # type: ignore[return-value]
