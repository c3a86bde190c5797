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
"""

from __future__ import annotations

from array import array
from collections import Counter

from stax.event_columns import EventColumns
from stax_backend_linux.dwarf_callgraph.unwind_pass import DwarfUnwindPass


def repair_columns(run: EventColumns, unwinder: DwarfUnwindPass) -> tuple[int, int]:
    """Repair ``run``'s sample and span stacks in place; (rows unwound, their stack bytes)."""
    table = run.stacks
    dumps = getattr(table, "dumps", None)
    if dumps is None:
        return 0, 0
    entries = table.entries
    rows = nbytes = 0
    for column, spans in (("sample_stack", False), ("span_stack", True)):
        raws = getattr(run, column)
        if not raws:
            continue
        remap: dict[int, int] = {}
        for raw, times in Counter(raws).items():
            dump = dumps.get(raw)
            if dump is None:
                continue
            regs, stack = dump
            if spans and not regs:  # a span without user context is delivered as taken
                continue
            pid, kernel, user, truncated = entries[raw]
            ips, cut = unwinder.user_stack(pid, regs, stack, user, len(kernel), times=times)
            rows += times
            nbytes += times * len(stack)
            if spans:
                cut = truncated  # a span keeps its stack's mark (OffCpuInterval has none)
            if ips != user or cut != truncated:
                remap[raw] = table.add((pid, kernel, ips, cut))  # type: ignore[attr-defined]
        if remap:
            setattr(run, column, array("q", map(remap.get, raws, raws)))  # C-level: no loop per row
    return rows, nbytes
