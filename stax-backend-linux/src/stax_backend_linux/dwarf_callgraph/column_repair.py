"""Hybrid unwinding of a compiled run (decode/compiled_stream.py): each distinct copy once.

On the compiled capture path, samples and off-CPU spans reach the unwinding stage as
:class:`stax.event_columns.EventColumns` whose stack columns index raw stacks; in hybrid
mode each raw stack of a sample or switch-out also holds its record's user registers and
stack copy (:class:`~stax_backend_linux.decode.compiled_stream.DumpedRawStacks`), so the
rows that blocked or ran with the same bytes share one.  :func:`repair_columns` repairs
each distinct one once per run, with the process's mappings at the run's place in the
stream, exactly as :meth:`DwarfUnwindPass.sample` and :meth:`~DwarfUnwindPass.interval`
do for each object on the Python path (its counters count every row), and points the
rows at the repaired stacks.

Most copies differ (a CPU-bound loop's stack bytes change with every sample), but whether
the kernel's walk is kept depends only on the process's mappings and the walk's leaf and
caller (:meth:`DwarfUnwindPass.walk_kept`).  Once a place is kept, it is handed to the scan
(:meth:`DumpedRawStacks.keep_place`), which from then on gives every copy there one raw
stack per stack and copy size without the bytes (``table.kept``): only new places cross
into Python.  Those rows are counted as the kept ones on the Python path are.  The scan
forgets the places at every mapping change it reads and takes a place only while the
unwinder has applied the same changes of the pid as the scan has read
(dwarf_callgraph/mapping_changes.py).
"""

from __future__ import annotations

from array import array

from stax.event_columns import EventColumns, RawStacks
from stax_backend_linux.dwarf_callgraph.unwind_pass import DwarfUnwindPass


def repair_columns(run: EventColumns, unwinder: DwarfUnwindPass) -> tuple[int, int]:
    """Repair ``run``'s sample and span stacks in place; (rows unwound, their stack bytes)."""
    table = run.stacks
    dumps = getattr(table, "dumps", None)
    if dumps is None:
        return 0, 0
    entries = table.entries
    kept = table.kept  # type: ignore[attr-defined]
    checked: dict[int, int] = table.kept_checked  # type: ignore[attr-defined]
    epoch = unwinder.mapping_epoch
    max_stack = unwinder.max_stack
    rows = nbytes = kept_rows = 0
    for column, spans in (("sample_stack", False), ("span_stack", True)):
        raws = getattr(run, column)
        if not raws:
            continue
        remap: dict[int, int] = {}
        _pid, _tid, distinct, counts, _weight = table.add_up(raws, raws, raws, raws)  # in C: rows once each
        for raw, times in zip(distinct, counts, strict=True):
            dump = dumps.get(raw)
            if dump is None:
                size = kept.get(raw)
                if size is None:
                    continue
                if checked.get(raw) == epoch:  # found kept since the last mapping change: as then
                    kept_rows += times
                    rows += times
                    nbytes += times * size
                    continue
                pid, kernel, user, truncated = entries[raw]
                ips, cut, stack_bytes = user, len(kernel) + len(user) >= max_stack, size
                if not unwinder.walk_kept(pid, user, times):
                    unwinder.copy_dropped(times)  # the mappings changed under a kept place
                elif spans or cut == truncated:  # delivered as it is
                    checked[raw] = epoch
            else:
                regs, stack = dump
                if spans and not regs:  # a span without user context is delivered as taken
                    continue
                pid, kernel, user, truncated = entries[raw]
                stack_bytes = len(stack)
                if unwinder.hybrid and regs and user and unwinder.walk_kept(pid, user, times):
                    table.keep_place(pid, user, unwinder.map_changes[pid])  # type: ignore[attr-defined]
                    ips, cut = user, len(kernel) + len(user) >= max_stack
                else:
                    ips, cut = unwinder.user_stack(pid, regs, stack, user, len(kernel), times=times)
            rows += times
            nbytes += times * stack_bytes
            if spans:
                cut = truncated  # a span keeps its stack's mark (OffCpuInterval has none)
            if ips != user or cut != truncated:
                remap[raw] = table.add((pid, kernel, ips, cut))  # type: ignore[attr-defined]
        if remap:
            setattr(run, column, _remapped(table, raws, remap))
    unwinder.hybrid_stacks += kept_rows
    return rows, nbytes


def _remapped(table: RawStacks, raws: array, remap: dict[int, int]) -> array:
    """``raws`` with each raw id in ``remap`` replaced (through the table's translate: compiled
    when the stream is, so no Python loop per row)."""
    ids = array("q", range(len(table.entries)))
    for raw, new in remap.items():
        ids[raw] = new
    return table.translate(ids, raws)[0]
