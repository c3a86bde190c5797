"""``/api/top``: functions by self or total time, the numbers behind ``stax top``.

Rows come from the analysis layer's :func:`~stax.analysis.function_totals.function_totals`
over the (transformed) root-first call tree, so a recursive function's total counts each
sample once, as in ``stax top``.  ``self``/``total`` are in the payload's unit (samples
on CPU, ns off it); ``samples`` is how many samples (or spans) passed through the
function.  ``file``/``line``: where the function's sampled code is (its first sampled
line), when the recording has line info.
"""

from __future__ import annotations

from stax.analysis.call_tree import CallTree
from stax.analysis.frame_names import frame_labels
from stax.analysis.function_totals import FunctionTotal, function_totals
from stax.analysis.profile import Profile
from stax.recording.reader import Recording
from stax_web.flame_view import frame_kind

SORTS = ("self", "total", "samples")
KINDS = ("user", "kernel", "jit", "inline")
"""The row's ``kind``, by :func:`stax_web.flame_view.frame_kind` (the flame payload's number)."""


def function_lines(rec: Recording) -> dict[tuple[str, str], tuple[str, int | None]]:
    """(function, image) -> (file, first line sampled), from the recording's frame labels."""
    out: dict[tuple[str, str], tuple[str, int | None]] = {}
    for label in frame_labels(rec):  # named as the profile's frames are (demangled)
        if not (label.resolved and label.file):
            continue
        key = (label.name, label.image)
        known = out.get(key)
        if known is None or (label.line is not None and (known[1] is None or label.line < known[1])):
            out[key] = (label.file, label.line)
    return out


def top_rows(profile: Profile, tree: CallTree, unit: str) -> list[dict[str, object]]:
    """Every function with time in ``profile``, as ``/api/top`` rows (unsorted, uncut)."""
    by_count = unit == "samples"
    rows = []
    for row in function_totals(profile, tree):
        rows.append(_row(row, by_count))
    return rows


def _row(row: FunctionTotal, by_count: bool) -> dict[str, object]:
    frame = row.frame
    return {
        "function": frame.name,
        "image": frame.image,
        "kind": KINDS[frame_kind(frame)],
        "self": row.self_count if by_count else row.self_weight,
        "total": row.total_count if by_count else row.total_weight,
        "samples": row.total_count,
    }


def top_payload(rows: list[dict[str, object]], total: int, unit: str, sort: str, limit: int, text: str,
                lines: dict[tuple[str, str], tuple[str, int | None]]) -> dict[str, object]:
    """The first ``limit`` rows matching ``text`` (in function or image), by ``sort``, descending."""
    needle = text.casefold()
    chosen = [r for r in rows if not needle or needle in str(r["function"]).casefold()
              or needle in str(r["image"]).casefold()]
    chosen.sort(key=lambda r: (-r[sort], -r["total"], r["function"]))  # type: ignore[operator]
    out = []
    for row in chosen[:limit]:
        file, line = lines.get((row["function"], row["image"]), (None, None))  # type: ignore[arg-type]
        out.append({**row, "file": file, "line": line})
    return {"total": total, "unit": unit, "matched": len(chosen), "rows": out}
