"""Unwinding spooled DWARF-mode samples into :class:`stax.events.Sample` events.

Each process's executable mappings are followed from the image-load, fork and exec
events in time order, exactly as core's :class:`stax.address_spaces.AddressSpaces`
follows them (fork copies the parent's, exec forgets them, a new mapping replaces
what it overlaps); a :class:`~stax_backend_linux.unwind.ModuleResolver` is built from
them only when a sample of that process is unwound, so ELF files are parsed after
the capture, never while the target runs.  One
:class:`~stax_backend_linux.unwind.UnwindTableCache` serves the whole pass: each
file's tables and each function's CFA program are parsed once.

Addresses are delivered raw, like the frame-pointer path's: the sampled pc first,
then return addresses.  A return address points after the call instruction (for a
call at the very end of a function, at the next function); core's RecordingBuilder
marks every frame after the first as a return address and symbolication looks it up
at ``address - 1``, so callers are named by their call site, as perf and addr2line do.
"""

from __future__ import annotations

import collections
import struct

from stax.events import ImageKind, ImageLoad, Sample
from stax_backend_linux.dwarf_callgraph.stack_sample import StackSample
from stax_backend_linux.unwind import (
    ElfUnwindTables,
    ModuleResolver,
    PerfRegisterLayout,
    UnwindTableCache,
    unwind,
)
from stax_backend_linux.unwind.vdso_tables import vdso_unwind_tables

_UNSET = object()


class ProcessMappings:
    """One process's executable mappings for unwinding (non-overlapping, in load order)."""

    __slots__ = ("loads", "version")

    def __init__(self, loads: list[ImageLoad] | None = None) -> None:
        self.loads: list[ImageLoad] = loads or []
        self.version = 0

    def overlaps(self, load: ImageLoad) -> bool:
        """Would ``load`` replace (part of) a mapping the process already has?"""
        return any(m.start < load.end and load.start < m.end for m in self.loads)

    def add(self, load: ImageLoad) -> None:
        self.loads = [m for m in self.loads if m.end <= load.start or m.start >= load.end]
        self.loads.append(load)
        self.version += 1


class DwarfUnwindPass:
    """Address spaces per pid, and the unwinding of one :class:`StackSample` at a time."""

    def __init__(self, regs_mask: int, table_cache: UnwindTableCache | None = None) -> None:
        self.layout = PerfRegisterLayout(regs_mask)
        self.regs_struct = struct.Struct(f"<{regs_mask.bit_count()}Q")
        self.table_cache = table_cache if table_cache is not None else UnwindTableCache()
        self.processes: dict[int, ProcessMappings] = {}
        self._resolvers: dict[int, tuple[int, ModuleResolver]] = {}
        self._vdso: ElfUnwindTables | None | object = _UNSET
        self.unwound = 0
        self.truncated = 0
        self.frames = 0
        self.stop_reasons: collections.Counter[str] = collections.Counter()

    # -- address spaces -------------------------------------------------------------------------

    def replaces_mapping(self, load: ImageLoad) -> bool:
        """True if ``load`` changes what an address already mapped in its process means."""
        maps = self.processes.get(load.pid)
        return maps is not None and maps.overlaps(load)

    def image_load(self, load: ImageLoad) -> None:
        if load.kind in (ImageKind.KERNEL, ImageKind.MACHO) or load.pid < 0:
            return
        maps = self.processes.get(load.pid)
        if maps is None:
            maps = self.processes[load.pid] = ProcessMappings()
        maps.add(load)

    def fork(self, parent_pid: int, child_pid: int) -> None:
        """A new process starts with a copy of its parent's mappings."""
        parent = self.processes.get(parent_pid)
        self.processes[child_pid] = ProcessMappings(list(parent.loads) if parent is not None else None)
        self._resolvers.pop(child_pid, None)

    def exec(self, pid: int) -> None:
        """exec replaced the process image: its old mappings are gone."""
        self.processes[pid] = ProcessMappings()
        self._resolvers.pop(pid, None)

    def resolver(self, pid: int) -> ModuleResolver:
        """The unwinder's view of ``pid``'s mappings now (rebuilt only after they changed)."""
        maps = self.processes.get(pid)
        version = maps.version if maps is not None else -1
        cached = self._resolvers.get(pid)
        if cached is not None and cached[0] == version and maps is not None:
            return cached[1]
        resolver = ModuleResolver(self.table_cache)
        for load in maps.loads if maps is not None else ():
            self._add(resolver, load)
        self._resolvers[pid] = (version, resolver)
        return resolver

    def _add(self, resolver: ModuleResolver, load: ImageLoad) -> None:
        if load.kind is ImageKind.ELF:
            tables = self.table_cache.get(load.path)
            if tables is not None and load.build_id and tables.build_id and tables.build_id != load.build_id:
                tables = None  # the file changed on disk since it was mapped: its CFI would lie
            resolver.add_mapping(load.start, load.end, load.file_offset, load.path, tables=tables)
        elif load.kind is ImageKind.VDSO:
            resolver.add_mapping(load.start, load.end, 0, load.path, tables=self._vdso_tables())
        else:  # JIT or anonymous code: no CFI, only the frame-pointer fallback
            resolver.add_mapping(load.start, load.end, 0, load.path, tables=None)

    def _vdso_tables(self) -> ElfUnwindTables | None:
        if self._vdso is _UNSET:
            tables = vdso_unwind_tables()
            self._vdso = self.table_cache.add(tables) if tables is not None else None
        return self._vdso  # type: ignore[return-value]

    # -- samples --------------------------------------------------------------------------------

    def sample(self, record: StackSample) -> Sample:
        """The sample with its user stack unwound (truncated when the walk stopped early)."""
        regs = record.regs
        if not regs:  # a kernel thread, or the task had no user context
            return Sample(record.time, record.pid, record.tid, record.cpu, record.weight,
                          record.kernel_ips, (), False)
        values = self.regs_struct.unpack(regs)
        result = unwind(self.layout.dwarf_registers(values), record.stack, self.resolver(record.pid))
        ips = result.ips
        self.unwound += 1
        self.frames += len(ips)
        if result.truncated:
            self.truncated += 1
            self.stop_reasons[result.reason] += 1
        return Sample(record.time, record.pid, record.tid, record.cpu, record.weight,
                      record.kernel_ips, tuple(ips), result.truncated)

    def unreadable_files(self) -> dict[str, str]:
        """Files whose unwind tables could not be read: path -> why."""
        return dict(self.table_cache.errors)
