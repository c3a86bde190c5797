"""Unwinding spooled samples and off-CPU intervals: DWARF mode, and hybrid mode's splice.

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

Hybrid mode (``--call-graph fp``, the default) keeps the kernel's frame-pointer walk and
repairs its leaf end: libc's memset, strlen and syscall wrappers keep no frame pointer,
so the kernel's walk, which starts at the leaf's rbp (its caller's frame), skips the
caller.  The walk is right from a frame on when that frame's function has its frame
pointer set up (its CFA is rbp + 16) and so does the function it returns into.  When
the sampled pc and the walk's first return address are both such, the stack is kept as
is; otherwise the leaf frames are unwound with CFI from ip/sp/bp and the small stack
copy until they reach a return address of the kernel's walk that returns into a
function with its frame pointer set up (:class:`FpChainJoin`), and the walk is spliced
on from there (:func:`splice_fp_chain`).  A walk that cannot reach the chain inside the
copy keeps the kernel's stack unchanged (counted as not repaired).  A frameless
function further out than the copy reaches still hides its caller, as in perf.
"""

from __future__ import annotations

import collections
import struct
from collections.abc import Sequence

from stax.events import ImageKind, ImageLoad, OffCpuInterval, Sample
from stax_backend_linux.dwarf_callgraph.stack_sample import StackSample
from stax_backend_linux.off_cpu.records import DumpedInterval
from stax_backend_linux.unwind import (
    ElfUnwindTables,
    ModuleResolver,
    PerfRegisterLayout,
    StopReason,
    UnwindTableCache,
    UnwindTableError,
    unwind,
)
from stax_backend_linux.unwind.vdso_tables import vdso_unwind_tables
from stax_binfmt.cfi.x86_64_registers import RBP

_UNSET = object()
MEMO_BYTES = 64 << 20
"""The unwound-stack memo is cleared when its keys hold this many bytes of dumps."""
MEMO_PLACES = 1 << 20
"""Hybrid: (leaf pc, caller) places whose frame-pointer walk was decided, at most (then forgotten)."""
UNWOUND, FP_KEPT, SAME, REPAIRED, UNREPAIRED = range(5)
"""Outcomes of one stack: unwound whole (dwarf); hybrid: the kernel's walk kept without a CFI walk,
walked and found right, repaired, or not reached from the leaf."""
FP_ROW_CFA = (RBP, 16)
"""A row whose CFA is rbp + 16: the function has set up its frame pointer, so the kernel's walk
from rbp names its caller correctly."""


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

    def __init__(self, regs_mask: int, table_cache: UnwindTableCache | None = None, *, hybrid: bool = False,
                 max_stack: int = 127) -> None:
        self.hybrid = hybrid
        """Splice CFI-unwound leaf frames onto the kernel's frame-pointer walk (else unwind it all)."""
        self.max_stack = max_stack
        """kernel.perf_event_max_stack: a frame-pointer stack that long was cut short."""
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
        self.checked = 0
        """Hybrid: stacks whose leaf pc had no frame pointer set up (so the kernel's walk was suspect)."""
        self.repaired = 0
        """Hybrid: stacks changed by the splice (a caller the kernel's walk skipped was put back)."""
        self.unrepaired = 0
        """Hybrid: suspect stacks whose CFI walk did not reach the kernel's chain (kept unchanged)."""
        self.hybrid_stacks = 0
        """Hybrid: stacks with a register dump looked at."""
        self._memo: dict[tuple[object, ...], tuple[tuple[int, ...], bool, int, str]] = {}
        self._memo_bytes = 0
        self._fp_kept: dict[tuple[object, int, int], bool] = {}
        """Hybrid: (mappings, leaf pc, caller's return address) -> the kernel's walk is right there
        (both keep frame pointers), whatever the registers and stack copy: most copies differ."""
        self.map_changes: collections.Counter[int] = collections.Counter()
        """pid -> image loads, execs and forks applied (dwarf_callgraph/mapping_changes.py)."""
        self.mapping_epoch = 0
        """Those of every pid: a decision made at the same epoch was made with the same mappings."""

    # -- address spaces -------------------------------------------------------------------------

    def replaces_mapping(self, load: ImageLoad) -> bool:
        """True if ``load`` changes what an address already mapped in its process means."""
        maps = self.processes.get(load.pid)
        return maps is not None and maps.overlaps(load)

    def image_load(self, load: ImageLoad) -> None:
        self.map_changes[load.pid] += 1
        self.mapping_epoch += 1
        if load.kind in (ImageKind.KERNEL, ImageKind.MACHO) or load.pid < 0:
            return
        maps = self.processes.get(load.pid)
        if maps is None:
            maps = self.processes[load.pid] = ProcessMappings()
        maps.add(load)

    def fork(self, parent_pid: int, child_pid: int) -> None:
        """A new process starts with a copy of its parent's mappings."""
        self.map_changes[child_pid] += 1
        self.mapping_epoch += 1
        parent = self.processes.get(parent_pid)
        self.processes[child_pid] = ProcessMappings(list(parent.loads) if parent is not None else None)
        self._resolvers.pop(child_pid, None)

    def exec(self, pid: int) -> None:
        """exec replaced the process image: its old mappings are gone."""
        self.map_changes[pid] += 1
        self.mapping_epoch += 1
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
            def tables_of(load: ImageLoad = load) -> ElfUnwindTables | None:
                tables = self.table_cache.get(load.path)
                if tables is not None and load.build_id and tables.build_id not in (None, b"", load.build_id):
                    return None  # the file changed on disk since it was mapped: its CFI would lie
                return tables

            # read on the first lookup in the mapping: a process maps many libraries, samples touch few
            resolver.add_mapping(load.start, load.end, load.file_offset, load.path, loader=tables_of)
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
        user, truncated = self.user_stack(record.pid, record.regs, record.stack, record.user_ips,
                                          len(record.kernel_ips))
        return Sample(record.time, record.pid, record.tid, record.cpu, record.weight,
                      record.kernel_ips, user, truncated)

    def interval(self, record: DumpedInterval) -> OffCpuInterval:
        """The off-CPU interval with the user stack at its switch-out unwound."""
        i = record.interval
        user, _truncated = self.user_stack(i.pid, record.regs, record.stack, i.user_ips, len(i.kernel_ips))
        if user == i.user_ips:
            return i
        return OffCpuInterval(i.start, i.end, i.pid, i.tid, i.cpu, i.reason, i.wait_site, i.kernel_ips, user,
                              i.waker_tid)

    def user_stack(self, pid: int, regs: bytes, stack: bytes, fp_ips: tuple[int, ...],
                   kernel_frames: int, times: int = 1) -> tuple[tuple[int, ...], bool]:
        """(user ips leaf first, truncated) from one register/stack dump (and the kernel's fp walk);
        the counters count it ``times`` (the rows of a compiled run that share the dump).

        A loop blocks or runs with the same registers and stack bytes again and again, so each
        distinct (mappings, dump, fp walk) is unwound once (:data:`MEMO_BYTES` bounds the memo).
        """
        if not regs:  # a kernel thread, or the task had no user context
            return fp_ips, kernel_frames + len(fp_ips) >= self.max_stack and bool(fp_ips)
        if self.hybrid and fp_ips and self.walk_kept(pid, fp_ips, times):
            return fp_ips, kernel_frames + len(fp_ips) >= self.max_stack
        resolver = self.resolver(pid)
        key = (resolver, regs, stack, fp_ips)
        done = self._memo.get(key)
        if done is None:
            registers = self.layout.dwarf_registers(self.regs_struct.unpack(regs))
            if self.hybrid and fp_ips:
                done = self._splice(registers, stack, fp_ips, resolver)
            else:
                result = unwind(registers, stack, resolver)
                done = (tuple(result.ips), result.truncated, UNWOUND, result.reason)
            if self._memo_bytes > MEMO_BYTES:
                self._memo.clear()
                self._memo_bytes = 0
            self._memo[key] = done
            self._memo_bytes += len(stack) + len(regs) + 8 * len(fp_ips) + 200
        ips, truncated, outcome, reason = done
        if outcome == UNWOUND:
            self.unwound += times
            self.frames += len(ips) * times
            if truncated:
                self.truncated += times
                self.stop_reasons[reason] += times
            return ips, truncated
        self.hybrid_stacks += times
        if outcome != FP_KEPT:
            self.checked += times
            if outcome == REPAIRED:
                self.repaired += times
            elif outcome == UNREPAIRED:
                self.unrepaired += times
                self.stop_reasons[reason] += times
        return ips, truncated or kernel_frames + len(ips) >= self.max_stack

    def walk_kept(self, pid: int, fp_ips: tuple[int, ...], times: int = 1) -> bool:
        """Hybrid: :meth:`_walk_kept` with ``pid``'s mappings now; when kept, the stack (``times``
        rows) is counted as looked at, and needs no unwinding whatever its copy holds."""
        if self._walk_kept(self.resolver(pid), fp_ips):
            self.hybrid_stacks += times
            return True
        return False

    def copy_dropped(self, times: int) -> None:
        """Hybrid: ``times`` rows at a place the scan kept without their copies, whose mappings
        changed between its scan and its turn (a mapping change read later than the samples
        after it); their kernel walk is delivered as is, counted as not repaired."""
        self.hybrid_stacks += times
        self.checked += times
        self.unrepaired += times
        self.stop_reasons["copy not kept"] += times

    def _walk_kept(self, resolver: ModuleResolver, fp_ips: tuple[int, ...]) -> bool:
        """The leaf and its caller keep frame pointers (or their tables are unreadable): the
        kernel's walk is right as it is, and no copy needs unwinding (decided once per place)."""
        caller = fp_ips[1] if len(fp_ips) > 1 else 0
        key = (resolver, fp_ips[0], caller)
        kept = self._fp_kept.get(key)
        if kept is None:
            if len(self._fp_kept) > MEMO_PLACES:
                self._fp_kept.clear()
            try:
                kept = keeps_frame_pointer(resolver, fp_ips[0]) and (
                    len(fp_ips) < 2 or keeps_frame_pointer(resolver, caller - 1))
            except UnwindTableError:
                kept = True
            self._fp_kept[key] = kept
        return kept

    def _splice(self, registers: list[int | None], stack: bytes, fp_ips: tuple[int, ...],
                resolver: ModuleResolver) -> tuple[tuple[int, ...], bool, int, str]:
        """(ips, truncated apart from max_stack, outcome, why not repaired) of one hybrid stack
        whose walk :meth:`_walk_kept` did not keep."""
        result = unwind(registers, stack, resolver, stop_at=FpChainJoin(fp_ips, resolver))
        spliced = splice_fp_chain(result.ips, result.reason, fp_ips)
        if spliced is None:
            return fp_ips, False, UNREPAIRED, result.reason
        return spliced, False, REPAIRED if spliced != fp_ips else SAME, ""

    def unreadable_files(self) -> dict[str, str]:
        """Files whose unwind tables could not be read: path -> why."""
        return dict(self.table_cache.errors)


def keeps_frame_pointer(resolver: ModuleResolver, pc: int) -> bool:
    """Whether the function at ``pc`` has its frame pointer set up there (CFA = rbp + 16), so that
    the kernel's walk from its rbp finds its return address and its caller's rbp."""
    row = resolver.row_for(pc)
    return row is not None and row.simple is not None and row.simple[:2] == FP_ROW_CFA


class FpChainJoin:
    """``stop_at`` of a hybrid walk: the return addresses of the kernel's walk (after the sampled pc)
    that return into a function with its frame pointer set up, from where that walk is right."""

    __slots__ = ("fp_ips", "resolver")

    def __init__(self, fp_ips: tuple[int, ...], resolver: ModuleResolver) -> None:
        self.fp_ips = fp_ips
        self.resolver = resolver

    def __contains__(self, pc: object) -> bool:
        if pc not in self.fp_ips[1:]:
            return False
        try:
            return keeps_frame_pointer(self.resolver, pc - 1)  # type: ignore[operator]
        except UnwindTableError:
            return False


def splice_fp_chain(cfi_ips: Sequence[int], reason: str, fp_ips: tuple[int, ...]) -> tuple[int, ...] | None:
    """The repaired user stack: CFI frames up to where they meet the kernel's walk, then the walk.

    ``cfi_ips`` and ``reason`` are an :func:`unwind` with ``stop_at=fp_ips[1:]``.  Joined: its
    last ip is a return address of ``fp_ips``, whose frames beyond it follow.  A complete CFI
    walk (the outermost frame inside the copy) stands alone.  Otherwise None: the leaf could
    not be tied to the chain, and the chain is kept.
    """
    if reason == StopReason.JOINED:
        return (*cfi_ips, *fp_ips[fp_ips.index(cfi_ips[-1], 1) + 1:])
    if reason in (StopReason.OUTERMOST, StopReason.ZERO_PC):
        return tuple(cfi_ips)
    return None
