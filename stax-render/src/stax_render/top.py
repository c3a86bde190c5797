"""``top``: functions ranked by self samples, as a text table or JSON.

This is the ``top`` of ``ViewKind.PROFILE``; the ``top`` of
``ViewKind.OFF_CPU_PROFILE`` (``stax top --off-cpu``), which ranks functions by
blocked time, is :mod:`stax_render.top_off_cpu`.

The text table is what a user reads first after recording, so its header says how
much was captured (samples, duration, lost records) and what could not be
captured (capability notes), before the functions.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, TypeVar

from stax.analysis.sample_weight import sample_weight
from stax.text_safety import printable
from stax.views import ViewKind
from stax_render.json_output import write_json

if TYPE_CHECKING:  # the analyses load on first render, so `stax --help` stays fast
    from stax.analysis.function_totals import FunctionTotal
    from stax.analysis.profile import Profile
    from stax.analysis.thread_totals import ThreadTotal
    from stax.contracts import RenderOptions

DEFAULT_LIMIT = 20
MAX_FUNCTION_WIDTH = 70
MAX_THREADS_SHOWN = 8
Row = TypeVar("Row")


class TopRenderer:
    """The ``stax top`` table; ``options.format == "json"`` selects JSON."""

    name = "top"
    view = ViewKind.PROFILE
    formats = ("text", "json")
    description = "Functions ranked by self samples, with total (inclusive) samples."

    def render(self, profile: Profile, options: RenderOptions, out: IO[str]) -> None:
        """Rows per ``options.extra["by"]`` (function, image, file, comm, thread) in the order of
        ``options.extra["sort"]`` (self, total, samples); functions by self time when not given."""
        from stax.analysis.function_totals import Grouping, SortKey, grouped_totals
        from stax.analysis.thread_totals import thread_totals

        by = Grouping(options.extra.get("by", Grouping.FUNCTION))
        functions = shown(grouped_totals(profile, by, SortKey(options.extra.get("sort", SortKey.SELF))),
                          options)
        threads = thread_totals(profile)
        if options.format == "json":
            write_json(_as_json(profile, functions, threads, by), out)
        else:
            _write_text(profile, functions, threads, out, by, bool(options.extra.get("lines")))


def shown(rows: list[Row], options: RenderOptions) -> list[Row]:
    """The first ``options.limit`` rows: DEFAULT_LIMIT when it is None, all when negative."""
    limit = options.limit if options.limit is not None else DEFAULT_LIMIT
    return rows if limit < 0 else rows[:limit]


def function_label(row: FunctionTotal) -> str:
    """``[k] name`` for kernel code, ``[.] name`` for user code (perf's marks), control characters escaped."""
    return ("[k] " if row.frame.is_kernel else "[.] ") + printable(row.frame.label)


def source_line(row: FunctionTotal) -> str:
    """``file.c:12`` (the file's name, as perf's srcline shows it; the path is in the JSON)."""
    frame = row.frame
    if not frame.file:
        return "-"
    name = frame.file.rsplit("/", 1)[-1]
    return printable(name if frame.line is None else f"{name}:{frame.line}")


def _duration_text(profile: Profile) -> str:
    if profile.duration_ns is None:
        return "unknown"
    return f"{profile.duration_ns / 1e9:.3f} s"


def _write_text(profile: Profile, functions: list[FunctionTotal], threads: list[ThreadTotal],
                out: IO[str], by: str = "function", lines: bool = False) -> None:
    samples = profile.sample_count
    selected = "" if profile.filter.is_empty() else f" (selected by filter, of {profile.recorded_samples:,})"
    out.write(f"# {printable(profile.source)}\n")
    out.write(f"# {profile.samples_text()}: {samples:,}{selected}   duration: {_duration_text(profile)}"
              f"   lost: {profile.lost_total():,}\n")
    for note in profile.capability_notes():
        out.write(f"# note: {printable(note)}\n")
    if len(threads) > 1:
        shown = ", ".join(f"{printable(t.name)}-{t.tid} {t.percent:.1f}%"
                          for t in threads[:MAX_THREADS_SHOWN])
        more = f", +{len(threads) - MAX_THREADS_SHOWN} more" if len(threads) > MAX_THREADS_SHOWN else ""
        out.write(f"# threads: {shown}{more}\n")
    out.write("\n")
    if by == "function":
        labels = [function_label(row) for row in functions]
    elif by == "image":
        labels = [("[k] " if row.frame.is_kernel else "[.] ") + printable(row.frame.name)
                  for row in functions]
    else:
        labels = [printable(row.frame.name) for row in functions]
    # the last column: the image of a function, the process of a thread, a function's source line
    # with --lines; none for images and files
    last = {"function": "image", "comm": "process", "thread": "process"}.get(by, "")
    if lines:
        lasts = [source_line(row) for row in functions]
        last = "file:line"
    else:
        lasts = [printable(row.frame.image) if last else "" for row in functions]
    width = min(max((len(label) for label in labels), default=8), MAX_FUNCTION_WIDTH)
    count_width = max(len(f"{samples:,}"), 5)
    out.write(f"{'rank':>4}  {'self%':>7}  {'self':>{count_width}}  {'total%':>7}  "
              f"{'total':>{count_width}}  {by:<{width}}  {last}".rstrip() + "\n")
    for rank, (row, label, end) in enumerate(zip(functions, labels, lasts, strict=True), start=1):
        out.write(f"{rank:>4}  {row.self_percent:>6.2f}%  {row.self_count:>{count_width},}  "
                  f"{row.total_percent:>6.2f}%  {row.total_count:>{count_width},}  "
                  f"{label:<{width}}  {end}".rstrip() + "\n")


def _as_json(profile: Profile, functions: list[FunctionTotal],
             threads: list[ThreadTotal], by: str = "function") -> dict[str, object]:
    return {
        "recording": profile.source,
        "samples": profile.sample_count,
        "event": sample_weight(profile.meta).event,
        "recorded_samples": profile.recorded_samples,
        "duration_s": None if profile.duration_ns is None else profile.duration_ns / 1e9,
        "lost": profile.lost,
        "notes": profile.capability_notes(),
        "incomplete": profile.incomplete,
        "by": str(by),
        "functions": [
            {
                "function": row.frame.name,
                "image": row.frame.image,
                "file": row.frame.file,
                "line": row.frame.line,
                "self": row.self_count,
                "self_percent": round(row.self_percent, 4),
                "total": row.total_count,
                "total_percent": round(row.total_percent, 4),
                "is_kernel": row.frame.is_kernel,
                "is_inline": row.frame.is_inline,
            }
            for row in functions
        ],
        "threads": [
            {
                "pid": t.pid,
                "tid": t.tid,
                "name": t.name,
                "process": t.process_name,
                "samples": t.count,
                "percent": round(t.percent, 4),
            }
            for t in threads
        ],
    }
