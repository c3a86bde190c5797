"""A count with its noun, singular for one: ``1 sample``, ``2,345 samples``, ``1 span``.

Every text renderer says counts through :func:`count_text`, so no view prints "1 samples".
"""

from __future__ import annotations


def count_text(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` with thousands separators and ``noun``, plural (``noun + "s"`` unless given) but for one."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
