"""``wakers``: who woke each blocked stack, as text or JSON (``stax wakers``).

It draws a :class:`stax.analysis.wakeup_chains.WakeupChainsView`
(``ViewKind.WAKEUP_CHAINS``): each blocked stack (kernel wait site at the leaf) with
its reason and time, the threads that blocked there, then ``-- woken by --`` and the
stack of each waker (a thread, or an interrupt such as ``[timer interrupt]``), and
what no captured wakeup ended.  The view arrives cut to ``-n`` chains and ``-w``
wakers; its totals cover everything selected.  Names go through
:func:`stax.text_safety.printable`; the JSON keeps them exact.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from stax.text_safety import printable
from stax.views import ViewKind
from stax_render.blocked_time_text import ms_figure, spans_text, waker_label
from stax_render.count_text import count_text
from stax_render.json_output import write_json

if TYPE_CHECKING:
    from stax.analysis.profile import DisplayFrame
    from stax.analysis.wakeup_chains import WakeupChain, WakeupChainsView
    from stax.contracts import RenderOptions

MAX_BLOCKED_THREADS_SHOWN = 3
"""Blocked threads named on a chain's title line (the JSON has them all)."""
STACK_INDENT = "      "


class WakersRenderer:
    """The ``stax wakers`` chains; ``options.format == "json"`` selects JSON."""

    name = "wakers"
    view = ViewKind.WAKEUP_CHAINS
    formats = ("text", "json")
    description = "Blocked stacks, each with the threads and stacks whose wakeups ended the waits."

    def render(self, view: WakeupChainsView, options: RenderOptions, out: IO[str]) -> None:
        if options.format == "json":
            write_json(as_json(view), out)
        else:
            write_text(view, out)


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def _write_stack(stack: tuple[DisplayFrame, ...], out: IO[str]) -> None:
    for frame in stack:
        out.write(f"{STACK_INDENT}{'[k]' if frame.is_kernel else '[.]'} {printable(frame.label)}\n")


def write_text(view: WakeupChainsView, out: IO[str]) -> None:
    chains = view.chains
    out.write(f"# {printable(view.source)}: who woke the blocked stacks\n")
    out.write(f"# blocked: {ms_figure(chains.ns)} ms in {spans_text(chains.spans)};"
              f" {_percent(chains.woken_ns, chains.ns):.1f}% of it ended by a captured wakeup\n")
    for note in view.notes:
        out.write(f"# note: {printable(note)}\n")
    if len(chains.chains) < chains.chain_count:
        out.write(f"# showing {len(chains.chains)} of {count_text(chains.chain_count, 'blocked stack')}"
                  " (-n -1 for all)\n")
    for rank, chain in enumerate(chains.chains, start=1):
        _write_chain(rank, chain, chains.ns, out)


def _write_chain(rank: int, chain: WakeupChain, total: int, out: IO[str]) -> None:
    threads = ", ".join(waker_label(t.name, t.tid) for t in chain.threads[:MAX_BLOCKED_THREADS_SHOWN])
    if len(chain.threads) > MAX_BLOCKED_THREADS_SHOWN:
        threads += f", +{len(chain.threads) - MAX_BLOCKED_THREADS_SHOWN} more"
    out.write(f"\n#{rank}  {chain.reason}  {ms_figure(chain.ns)} ms ({_percent(chain.ns, total):.1f}%)"
              f" in {spans_text(chain.spans)}   blocked: {threads}\n")
    _write_stack(chain.stack, out)
    for waker in chain.wakers:
        who = waker_label(waker.name, waker.tid) + ("" if waker.tid is None else f" (pid {waker.pid})")
        out.write(f"    -- woken by {who}: {waker.spans:,}"
                  f" of {spans_text(chain.spans)}, {ms_figure(waker.ns)} ms"
                  f" ({_percent(waker.ns, chain.ns):.1f}%) --\n")
        _write_stack(waker.stack, out)
    hidden = chain.waker_count - len(chain.wakers)
    if hidden:
        out.write(f"    -- and {count_text(hidden, 'more waker')}: {spans_text(chain.other_wakers_spans)},"
                  f" {ms_figure(chain.other_wakers_ns)} ms (-w -1 shows them) --\n")
    if chain.unwoken_spans:
        out.write(f"    -- no wakeup captured: {spans_text(chain.unwoken_spans)},"
                  f" {ms_figure(chain.unwoken_ns)} ms ({_percent(chain.unwoken_ns, chain.ns):.1f}%) --\n")


def _frame_json(frame: DisplayFrame) -> dict[str, object]:
    return {"function": frame.name, "image": frame.image, "is_kernel": frame.is_kernel,
            "is_inline": frame.is_inline}


def as_json(view: WakeupChainsView) -> dict[str, object]:
    chains = view.chains
    return {
        "recording": view.source,
        "incomplete": view.incomplete,
        "blocked_ns": chains.ns,
        "blocked_spans": chains.spans,
        "woken_ns": chains.woken_ns,
        "chain_count": chains.chain_count,
        "notes": list(view.notes),
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
