"""``threads``: where each thread's time went, as a table or JSON (``stax threads``).

It draws a :class:`stax.analysis.thread_breakdown.ThreadBreakdownView`
(``ViewKind.THREAD_BREAKDOWN``): per thread, on-CPU time, blocked time split by
reason (one column per reason present, most time first), runnable wait, wakeups
received, hardware counters and IPC when recorded, and the threads that woke it
most.  The view arrives cut to ``-n``; ``thread_count`` says how many there were.
Names go through :func:`stax.text_safety.printable`; the JSON keeps them exact.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from stax.text_safety import printable
from stax.views import ViewKind
from stax_render.blocked_time_text import ms_figure, waker_label
from stax_render.count_text import count_text
from stax_render.json_output import write_json

if TYPE_CHECKING:
    from stax.analysis.thread_breakdown import ThreadBreakdownView
    from stax.contracts import RenderOptions

MAX_WAKERS_SHOWN = 3
"""Wakers per thread in the text table (the JSON has them all)."""
COUNTER_COLUMNS = ("cycles", "instructions")


class ThreadsRenderer:
    """The ``stax threads`` table; ``options.format == "json"`` selects JSON."""

    name = "threads"
    view = ViewKind.THREAD_BREAKDOWN
    formats = ("text", "json")
    description = "Per thread: on-CPU, blocked time by reason, runnable wait, wakeups, top wakers."

    def render(self, view: ThreadBreakdownView, options: RenderOptions, out: IO[str]) -> None:
        if options.format == "json":
            write_json(as_json(view), out)
        else:
            write_text(view, out)


def write_text(view: ThreadBreakdownView, out: IO[str]) -> None:
    rows = view.threads
    is_time = view.weight.is_time
    if is_time:
        out.write(f"# {printable(view.source)}: time per thread, in ms (on CPU, blocked by reason,"
                  " runnable wait)\n")
    else:  # the samples weigh events, not CPU time
        out.write(f"# {printable(view.source)}: {printable(view.weight.label)} per thread (what its samples"
                  " stand for), and time in ms (blocked by reason, runnable wait)\n")
    for note in view.notes:
        out.write(f"# note: {printable(note)}\n")
    if len(rows) < view.thread_count:
        out.write(f"# showing {len(rows)} of {count_text(view.thread_count, 'thread')} (-n -1 for all)\n")
    if view.woken_hidden:
        out.write(f"# not shown: {count_text(view.woken_hidden, 'thread')} outside the target that it"
                  " only woke (--woken lists them)\n")
    out.write("\n")
    reason_totals: dict[str, int] = {}
    for row in rows:
        for reason, ns in row.blocked:
            reason_totals[reason] = reason_totals.get(reason, 0) + ns
    reasons = sorted(reason_totals, key=lambda r: (-reason_totals[r], r))
    counters = [c for c in COUNTER_COLUMNS if any(dict(r.counters).get(c) is not None for r in rows)]
    on_cpu = "on-cpu" if is_time else printable(view.weight.event)
    header = ["pid", "tid", "name", on_cpu, "blocked", *reasons, "runnable", "wakeups", *counters]
    has_ipc = any(r.ipc is not None for r in rows)
    if has_ipc:
        header.append("ipc")
    header.append("top wakers")
    table = [header]
    for row in rows:
        split = dict(row.blocked)
        values = dict(row.counters)
        cells = [str(row.pid), str(row.tid), printable(row.name),
                 ms_figure(row.on_cpu_ns) if is_time else f"{row.events:,}",
                 ms_figure(row.blocked_ns), *(ms_figure(split[r]) if r in split else "-" for r in reasons),
                 ms_figure(row.runnable_ns), f"{row.wakeups_received:,}",
                 *(f"{values[c]:,}" if c in values else "-" for c in counters)]
        if has_ipc:
            cells.append(f"{row.ipc:.2f}" if row.ipc is not None else "-")
        top = ", ".join(f"{waker_label(w.name, w.tid)} x{w.count:,}"
                        for w in row.wakers[:MAX_WAKERS_SHOWN])
        more = len(row.wakers) - MAX_WAKERS_SHOWN
        cells.append((top + (f", +{more} more" if more > 0 else "")) or "-")
        table.append(cells)
    widths = [max(len(r[c]) for r in table) for c in range(len(header) - 1)]
    left = {2}  # the name column reads better left-aligned; numbers right-aligned
    for cells in table:
        out.write("  ".join(cell.ljust(widths[c]) if c in left else cell.rjust(widths[c])
                            for c, cell in enumerate(cells[:-1])))
        out.write(f"  {cells[-1]}\n")


def as_json(view: ThreadBreakdownView) -> dict[str, object]:
    return {
        "recording": view.source,
        "event": view.weight.event,
        "has_off_cpu": view.has_off_cpu,
        "notes": list(view.notes),
        "incomplete": view.incomplete,
        "woken_hidden": view.woken_hidden,
        "threads": [
            {
                "pid": r.pid,
                "tid": r.tid,
                "name": r.name,
                "process": r.process_name,
                "samples": r.samples,
                "on_cpu_ns": r.on_cpu_ns if view.weight.is_time else None,
                "events": None if view.weight.is_time else r.events,
                "blocked_ns": r.blocked_ns,
                "blocked_spans": r.blocked_spans,
                "blocked": dict(r.blocked),
                "runnable_wait_ns": r.runnable_ns,
                "runnable_wait_spans": r.runnable_spans,
                "wakeups_received": r.wakeups_received,
                "wakers": [{"pid": w.pid, "tid": w.tid, "name": w.name, "count": w.count,
                            "context": "interrupt" if w.tid is None else "thread"}
                           for w in r.wakers],
                "counters": dict(r.counters),
                "ipc": None if r.ipc is None else round(r.ipc, 4),
                "only_woken": r.only_woken,
            }
            for r in view.threads
        ],
    }
