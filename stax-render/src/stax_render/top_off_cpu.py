"""``top --off-cpu``: functions ranked by inclusive blocked time, split by blocked reason.

Every blocked stack ends in the kernel scheduler, so self time says nothing; the
table ranks functions by the blocked time of every span whose switch-out stack
passes through them, and says what they waited for.  The header gives the
per-reason totals and, apart, the runnable wait (preempted: waiting for a CPU),
which is off-CPU time but never blocked time.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from stax.text_safety import printable
from stax.views import ViewKind
from stax_render.blocked_time_text import format_ms, spans_text
from stax_render.count_text import count_text
from stax_render.json_output import write_json
from stax_render.top import MAX_FUNCTION_WIDTH, MAX_THREADS_SHOWN, shown

if TYPE_CHECKING:
    from collections.abc import Sequence

    from stax.analysis.off_cpu_profile import OffCpuProfile
    from stax.analysis.off_cpu_totals import BlockedFunctionTotal
    from stax.analysis.profile import DisplayFrame
    from stax.contracts import RenderOptions

MAX_REASONS_SHOWN = 2
MAX_COMMON_SHOWN = 4
"""Shared kernel frames named in the header; the rest are counted."""


class OffCpuTopRenderer:
    """The ``stax top --off-cpu`` table; ``options.format == "json"`` selects JSON."""

    name = "top"
    view = ViewKind.OFF_CPU_PROFILE
    formats = ("text", "json")
    description = "Functions ranked by inclusive blocked time, split by blocked reason."

    def render(self, profile: OffCpuProfile, options: RenderOptions, out: IO[str]) -> None:
        from stax.analysis.off_cpu_totals import function_blocked_totals, shared_kernel_frames

        shared = [] if options.extra.get("kernel_common") else shared_kernel_frames(profile)
        functions = shown(function_blocked_totals(profile, frozenset(shared)), options)
        common = [profile.frames[f] for f in shared]
        if options.format == "json":
            write_json(as_json(profile, functions, common), out)
        else:
            write_text(profile, functions, out, common)


def reasons_text(row: BlockedFunctionTotal) -> str:
    """The top reasons of a function, ``lock 70% sleep 30%`` (+N more)."""
    shown = " ".join(f"{reason} {100 * ns / row.ns:.0f}%" for reason, ns in row.reasons[:MAX_REASONS_SHOWN]
                     if row.ns)
    more = len(row.reasons) - MAX_REASONS_SHOWN
    return shown + (f" +{more}" if more > 0 else "")


def write_text(profile: OffCpuProfile, functions: list[BlockedFunctionTotal], out: IO[str],
               common: Sequence[DisplayFrame] = ()) -> None:
    blocked = profile.blocked_ns
    out.write(f"# {printable(profile.source)}: off-CPU (blocked) time\n")
    selected = ("" if profile.filter.is_empty()
                else f" (selected by filter, of {spans_text(profile.recorded_spans)})")
    out.write(f"# blocked: {format_ms(blocked)} in {spans_text(profile.blocked_spans)}{selected}"
              f"   runnable wait (preempted, not blocked): {format_ms(profile.preempted_ns)}"
              f" in {spans_text(profile.preempted_spans)}\n")
    if profile.reasons:
        out.write("# by reason: " + ", ".join(
            f"{r.reason} {format_ms(r.ns)} ({100 * r.ns / blocked:.1f}%)" for r in profile.reasons
            if blocked) + "\n")
    for note in profile.off_cpu_notes():
        out.write(f"# note: {printable(note)}\n")
    if common:
        names = ", ".join(printable(f.label) for f in common[:MAX_COMMON_SHOWN])
        more = f", +{len(common) - MAX_COMMON_SHOWN} more" if len(common) > MAX_COMMON_SHOWN else ""
        out.write(f"# not ranked: {count_text(len(common), 'kernel frame')} on every blocked stack"
                  f" ({names}{more}; --kernel-common ranks them)\n")
    if profile.non_code_frames:
        out.write(f"# dropped: {count_text(profile.non_code_frames, 'frame')} that are not code (addresses"
                  f" no mapping holds, e.g. a system call argument read as a return address) from the"
                  f" stacks of {spans_text(profile.non_code_spans)}\n")
    from stax.analysis.thread_totals import thread_totals

    threads = thread_totals(profile, by_weight=True)
    if len(threads) > 1:
        shown = ", ".join(f"{printable(t.name)}-{t.tid} {format_ms(t.weight)}"
                          for t in threads[:MAX_THREADS_SHOWN])
        more = f", +{len(threads) - MAX_THREADS_SHOWN} more" if len(threads) > MAX_THREADS_SHOWN else ""
        out.write(f"# threads: {shown}{more}\n")
    out.write("\n")
    labels = [("[k] " if r.frame.is_kernel else "[.] ") + printable(r.frame.label) for r in functions]
    reasons = [reasons_text(r) for r in functions]
    width = min(max((len(label) for label in labels), default=8), MAX_FUNCTION_WIDTH)
    time_width = max((len(format_ms(r.ns)) for r in functions), default=7)
    span_width = max(len(f"{profile.blocked_spans:,}"), 5)
    reason_width = max((len(text) for text in reasons), default=7)
    out.write(f"{'rank':>4}  {'blocked':>{time_width}}  {'%':>7}  {'spans':>{span_width}}  "
              f"{'reasons':<{reason_width}}  {'function':<{width}}  image\n")
    for rank, (row, label, why) in enumerate(zip(functions, labels, reasons, strict=True), start=1):
        out.write(f"{rank:>4}  {format_ms(row.ns):>{time_width}}  {row.percent:>6.2f}%  "
                  f"{row.spans:>{span_width},}  {why:<{reason_width}}  {label:<{width}}  "
                  f"{printable(row.frame.image)}\n")


def as_json(profile: OffCpuProfile, functions: list[BlockedFunctionTotal],
            common: Sequence[DisplayFrame] = ()) -> dict[str, object]:
    from stax.analysis.thread_totals import thread_totals

    blocked = profile.blocked_ns
    scale = 100.0 / blocked if blocked else 0.0
    return {
        "recording": profile.source,
        "view": "off-cpu",
        "blocked_ns": blocked,
        "blocked_ms": blocked / 1e6,
        "spans": profile.blocked_spans,
        "recorded_spans": profile.recorded_spans,
        "duration_s": None if profile.duration_ns is None else profile.duration_ns / 1e9,
        "runnable_wait": {"spans": profile.preempted_spans, "ns": profile.preempted_ns,
                          "ms": profile.preempted_ns / 1e6},
        "reasons": [{"reason": r.reason, "spans": r.spans, "ns": r.ns, "ms": r.ns / 1e6,
                     "percent": round(r.ns * scale, 4)} for r in profile.reasons],
        "notes": profile.off_cpu_notes(),
        "incomplete": profile.incomplete,
        "not_ranked": [{"function": f.name, "image": f.image, "is_kernel": f.is_kernel} for f in common],
        "non_code_frames": {"frames": profile.non_code_frames, "spans": profile.non_code_spans},
        "functions": [
            {
                "function": row.frame.name,
                "image": row.frame.image,
                "is_kernel": row.frame.is_kernel,
                "is_inline": row.frame.is_inline,
                "blocked_ns": row.ns,
                "blocked_ms": row.ns / 1e6,
                "percent": round(row.percent, 4),
                "spans": row.spans,
                "reasons": dict(row.reasons),
            }
            for row in functions
        ],
        "threads": [
            {"pid": t.pid, "tid": t.tid, "name": t.name, "process": t.process_name, "spans": t.count,
             "blocked_ns": t.weight, "blocked_ms": t.weight / 1e6, "percent": round(t.weight * scale, 4)}
            for t in thread_totals(profile, by_weight=True)
        ],
    }
