"""``stax threads`` and ``stax wakers``: where each thread's time went, and who woke it.

``threads`` puts on-CPU time, blocked time by reason, runnable wait and wakeups
side by side per thread; ``wakers`` joins each blocked stack to the threads and
stacks that ended its waits.  Both print a table or ``--json`` (stable keys) and
take the same ``--pid/--tid/--comm`` selection as the other views (it selects the
threads that were on CPU or blocked; their wakers may be any thread).  Names are
printed through :func:`stax.text_safety.printable`; an unfinished recording gets
the "incomplete recording" sentence on stderr (``incomplete`` in the JSON).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Annotated

from cyclopts import Parameter

from stax.analysis.off_cpu_profile import off_cpu_notes
from stax.analysis.profile import DisplayFrame
from stax.analysis.thread_breakdown import ThreadBreakdown, thread_breakdown
from stax.analysis.wakeup_chains import WakeupChain, WakeupChains, wakeup_chains
from stax.cli.view_commands import (
    DEFAULT_RECORDING,
    Selection,
    no_off_cpu_data_message,
    say_incomplete,
)
from stax.errors import StaxError
from stax.recording.reader import Recording
from stax.recording.recording_state import recording_incomplete_notice
from stax.text_safety import printable

MAX_WAKERS_SHOWN = 3
"""Wakers per thread (``threads``) and per blocked stack (``wakers``) in the text tables."""

COUNTER_COLUMNS = ("cycles", "instructions")


def _ms(ns: int) -> str:
    return f"{ns / 1e6:,.1f}"


def _waker_label(name: str, tid: int | None) -> str:
    """``writer-202`` for a thread, ``[timer interrupt]`` for an interrupt (printable)."""
    return printable(name) if tid is None else f"{printable(name)}-{tid}"


def _spans(count: int) -> str:
    return f"{count:,} span" + ("" if count == 1 else "s")


def threads(
    recording: Path = DEFAULT_RECORDING,
    /,
    *,
    limit: Annotated[int, Parameter(name=["-n", "--limit"])] = -1,
    selection: Selection | None = None,
    json_output: Annotated[bool, Parameter(name="--json", negative="")] = False,
) -> int:
    """Show where each thread's time went: on CPU, blocked by reason, waiting for a CPU.

    Per thread: on-CPU time (from samples), blocked time split by reason (sleep, lock,
    disk-io, network, pipe-ipc, poll, page-fault, other), runnable wait (preempted:
    ready to run but no CPU free), wakeups received and the threads that woke it most;
    hardware counters and IPC when they were recorded. Busiest threads first.
    Example: ``stax threads rec.stax --comm myprog``.

    Parameters
    ----------
    recording
        The .stax file written by ``stax record``.
    limit
        How many threads to show (-1 for all).
    json_output
        Print JSON instead of a table.
    """
    selection = selection or Selection()
    rec = Recording.open(recording)
    try:
        rows = thread_breakdown(rec, selection.to_filter())
        has_off_cpu = rec.off_cpu_span_count() > 0
        meta, capabilities = rec.meta(), rec.capabilities()
        incomplete = recording_incomplete_notice(rec, meta)
    finally:
        rec.close()
    if not json_output:
        say_incomplete(incomplete)
    if not rows:
        if selection.describe():
            raise StaxError(f"No threads in {recording} match {selection.describe()}; run"
                            f" `stax threads {recording}` without filters to see them all.")
        raise StaxError(f"{recording} holds no samples and no off-CPU data; record for longer.")
    notes = off_cpu_notes(meta, capabilities)
    if not has_off_cpu:
        notes.insert(0, no_off_cpu_data_message(recording, meta, capabilities))
    shown = rows if limit < 0 else rows[:limit]
    if json_output:
        json.dump(_threads_json(recording, shown, has_off_cpu, notes, incomplete), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _threads_text(recording, shown, len(rows), notes, sys.stdout)
    return 0


def wakers(
    recording: Path = DEFAULT_RECORDING,
    /,
    *,
    limit: Annotated[int, Parameter(name=["-n", "--limit"])] = 10,
    max_wakers: Annotated[int, Parameter(name=["-w", "--wakers"])] = MAX_WAKERS_SHOWN,
    selection: Selection | None = None,
    json_output: Annotated[bool, Parameter(name="--json", negative="")] = False,
) -> int:
    """Show who woke each blocked stack: the blocked stack, then the waker threads and stacks.

    Each entry is one off-CPU stack (kernel wait site at the bottom) with its blocked
    reason and time, followed by ``-- woken by --`` and the stack of each thread whose
    wakeup ended those waits, most blocked time first. Runnable wait (preempted) is not
    blocking and has no waker. A wakeup done by an interrupt (a timer for a sleep, an
    I/O completion) is shown as ``[timer interrupt]``, ``[softirq]`` or ``[interrupt]``
    with the kernel stack from the interrupt entry, not as the thread it happened to
    interrupt. Example: ``stax wakers rec.stax -n 5 --comm server``.

    Parameters
    ----------
    recording
        The .stax file written by ``stax record``.
    limit
        How many blocked stacks to show (-1 for all).
    max_wakers
        How many wakers to show per blocked stack (-1 for all); the rest are summed.
    json_output
        Print JSON instead of text.
    """
    selection = selection or Selection()
    rec = Recording.open(recording)
    try:
        incomplete = recording_incomplete_notice(rec)
        if not json_output:
            say_incomplete(incomplete)
        if rec.off_cpu_span_count() == 0:
            raise StaxError(no_off_cpu_data_message(recording, rec.meta(), rec.capabilities()))
        chains = wakeup_chains(rec, selection.to_filter(), None if limit < 0 else limit,
                               None if max_wakers < 0 else max_wakers)
        notes = off_cpu_notes(rec.meta(), rec.capabilities())
    finally:
        rec.close()
    if not chains.chain_count:
        where = f" matching {selection.describe()}" if selection.describe() else ""
        raise StaxError(f"{recording} has no blocked off-CPU spans{where}; `stax threads"
                        f" {recording}` shows each thread's off-CPU time.")
    if json_output:
        json.dump(_wakers_json(recording, chains, notes, incomplete), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _wakers_text(recording, chains, notes, sys.stdout)
    return 0


# -- threads output -------------------------------------------------------------------------------


def _threads_text(recording: Path, rows: list[ThreadBreakdown], total_rows: int, notes: list[str],
                  out: IO[str]) -> None:
    out.write(f"# {printable(str(recording))}: time per thread, in ms (on CPU, blocked by reason,"
              " runnable wait)\n")
    for note in notes:
        out.write(f"# note: {printable(note)}\n")
    if len(rows) < total_rows:
        out.write(f"# showing {len(rows)} of {total_rows} threads (-n -1 for all)\n")
    out.write("\n")
    reason_totals: dict[str, int] = {}
    for row in rows:
        for reason, ns in row.blocked:
            reason_totals[reason] = reason_totals.get(reason, 0) + ns
    reasons = sorted(reason_totals, key=lambda r: (-reason_totals[r], r))
    counters = [c for c in COUNTER_COLUMNS if any(dict(r.counters).get(c) is not None for r in rows)]
    header = ["pid", "tid", "name", "on-cpu", "blocked", *reasons, "runnable", "wakeups", *counters]
    has_ipc = any(r.ipc is not None for r in rows)
    if has_ipc:
        header.append("ipc")
    header.append("top wakers")
    table = [header]
    for row in rows:
        split = dict(row.blocked)
        values = dict(row.counters)
        cells = [str(row.pid), str(row.tid), printable(row.name), _ms(row.on_cpu_ns), _ms(row.blocked_ns),
                 *(_ms(split[r]) if r in split else "-" for r in reasons),
                 _ms(row.runnable_ns), f"{row.wakeups_received:,}",
                 *(f"{values[c]:,}" if c in values else "-" for c in counters)]
        if has_ipc:
            cells.append(f"{row.ipc:.2f}" if row.ipc is not None else "-")
        top = ", ".join(f"{_waker_label(w.name, w.tid)} x{w.count:,}"
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


def _threads_json(recording: Path, rows: list[ThreadBreakdown], has_off_cpu: bool,
                  notes: list[str], incomplete: str | None) -> dict[str, object]:
    return {
        "recording": str(recording),
        "has_off_cpu": has_off_cpu,
        "notes": notes,
        "incomplete": incomplete,
        "threads": [
            {
                "pid": r.pid,
                "tid": r.tid,
                "name": r.name,
                "process": r.process_name,
                "samples": r.samples,
                "on_cpu_ns": r.on_cpu_ns,
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
            }
            for r in rows
        ],
    }


# -- wakers output --------------------------------------------------------------------------------


def _frame_json(frame: DisplayFrame) -> dict[str, object]:
    return {"function": frame.name, "image": frame.image, "is_kernel": frame.is_kernel,
            "is_inline": frame.is_inline}


def _write_stack(stack: tuple[DisplayFrame, ...], indent: str, out: IO[str]) -> None:
    for frame in stack:
        out.write(f"{indent}{'[k]' if frame.is_kernel else '[.]'} {printable(frame.label)}\n")


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def _wakers_text(recording: Path, chains: WakeupChains, notes: list[str], out: IO[str]) -> None:
    out.write(f"# {printable(str(recording))}: who woke the blocked stacks\n")
    out.write(f"# blocked: {_ms(chains.ns)} ms in {_spans(chains.spans)};"
              f" {_percent(chains.woken_ns, chains.ns):.1f}% of it ended by a captured wakeup\n")
    for note in notes:
        out.write(f"# note: {printable(note)}\n")
    if len(chains.chains) < chains.chain_count:
        out.write(f"# showing {len(chains.chains)} of {chains.chain_count} blocked stacks"
                  " (-n -1 for all)\n")
    for rank, chain in enumerate(chains.chains, start=1):
        _write_chain(rank, chain, chains.ns, out)


def _write_chain(rank: int, chain: WakeupChain, total: int, out: IO[str]) -> None:
    threads = ", ".join(_waker_label(t.name, t.tid) for t in chain.threads[:MAX_WAKERS_SHOWN])
    if len(chain.threads) > MAX_WAKERS_SHOWN:
        threads += f", +{len(chain.threads) - MAX_WAKERS_SHOWN} more"
    out.write(f"\n#{rank}  {chain.reason}  {_ms(chain.ns)} ms ({_percent(chain.ns, total):.1f}%)"
              f" in {_spans(chain.spans)}   blocked: {threads}\n")
    _write_stack(chain.stack, "      ", out)
    for waker in chain.wakers:
        who = _waker_label(waker.name, waker.tid) + ("" if waker.tid is None else f" (pid {waker.pid})")
        out.write(f"    -- woken by {who}: {waker.spans:,}"
                  f" of {_spans(chain.spans)}, {_ms(waker.ns)} ms"
                  f" ({_percent(waker.ns, chain.ns):.1f}%) --\n")
        _write_stack(waker.stack, "      ", out)
    hidden = chain.waker_count - len(chain.wakers)
    if hidden:
        out.write(f"    -- and {hidden} more wakers: {_spans(chain.other_wakers_spans)},"
                  f" {_ms(chain.other_wakers_ns)} ms (-w -1 shows them) --\n")
    if chain.unwoken_spans:
        out.write(f"    -- no wakeup captured: {_spans(chain.unwoken_spans)}, {_ms(chain.unwoken_ns)} ms"
                  f" ({_percent(chain.unwoken_ns, chain.ns):.1f}%) --\n")


def _wakers_json(recording: Path, chains: WakeupChains, notes: list[str],
                 incomplete: str | None) -> dict[str, object]:
    return {
        "recording": str(recording),
        "incomplete": incomplete,
        "blocked_ns": chains.ns,
        "blocked_spans": chains.spans,
        "woken_ns": chains.woken_ns,
        "chain_count": chains.chain_count,
        "notes": notes,
        "chains": [
            {
                "reason": c.reason,
                "blocked_ns": c.ns,
                "blocked_ms": c.ns / 1e6,
                "spans": c.spans,
                "percent": round(_percent(c.ns, chains.ns), 4),
                "stack": [_frame_json(f) for f in c.stack],
                "threads": [{"pid": t.pid, "tid": t.tid, "name": t.name, "spans": t.spans,
                             "blocked_ns": t.ns} for t in c.threads],
                "wakers": [
                    {"pid": w.pid, "tid": w.tid, "name": w.name,
                     "context": "interrupt" if w.tid is None else "thread", "spans": w.spans,
                     "blocked_ns": w.ns, "percent": round(_percent(w.ns, c.ns), 4),
                     "stack": [_frame_json(f) for f in w.stack]}
                    for w in c.wakers
                ],
                "waker_count": c.waker_count,
                "other_wakers": {"spans": c.other_wakers_spans, "blocked_ns": c.other_wakers_ns},
                "no_wakeup": {"spans": c.unwoken_spans, "blocked_ns": c.unwoken_ns},
            }
            for c in chains.chains
        ],
    }
