"""How the off-CPU views write blocked time: milliseconds, the split by reason, wakers."""

from __future__ import annotations

from stax.text_safety import printable
from stax_render.count_text import count_text


def ms_figure(ns: int) -> str:
    """Nanoseconds as a milliseconds figure without the unit, for table cells: ``1,000.0``."""
    return f"{ns / 1e6:,.1f}"


def format_ms(ns: int) -> str:
    """Nanoseconds as milliseconds, the unit of blocking that people reason in: ``1,000.0 ms``."""
    return f"{ms_figure(ns)} ms"


def reason_split_text(split: dict[str, int] | None, total: int) -> str:
    """``sleep 60%, lock 40%`` (most first); empty for no time."""
    if not split or not total:
        return ""
    parts = sorted(split.items(), key=lambda r: (-r[1], r[0]))
    return ", ".join(f"{reason} {100 * ns / total:.0f}%" for reason, ns in parts)


def spans_text(count: int) -> str:
    """``1 span``, ``1,234 spans``."""
    return count_text(count, "span")


def waker_label(name: str, tid: int | None) -> str:
    """``writer-202`` for a thread, ``[timer interrupt]`` for an interrupt (tid None), printable."""
    return printable(name) if tid is None else f"{printable(name)}-{tid}"
