"""Per-address lookups over one function's kept data: line rows, inline ranges, target names.

Each is built once per annotated function and answered by bisect, so annotating a
function costs a few microseconds per instruction whatever its size.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from stax.analysis.annotation import InlineCall
from stax.function_code import FunctionCode, InlineRange, LineRow


class LineIndex:
    """Address -> (file, line) from a function's line rows (the last row at or before it)."""

    def __init__(self, rows: Sequence[LineRow]) -> None:
        self.rows = rows
        self.starts = [r.address for r in rows]

    def at(self, address: int) -> tuple[str | None, int] | None:
        index = bisect.bisect_right(self.starts, address) - 1
        if index < 0 or self.rows[index].file is None:
            return None
        return self.rows[index].file, self.rows[index].line


class InlineIndex:
    """Address -> inline chain; ranges of one depth never overlap, so one bisect per depth."""

    def __init__(self, ranges: Sequence[InlineRange], show: Callable[[str], str] = str) -> None:
        """``show`` names a function as the views do (demangled unless ``--no-demangle``)."""
        self.show = show
        by_depth: dict[int, list[InlineRange]] = {}
        for r in ranges:
            by_depth.setdefault(r.depth, []).append(r)
        self.depths = [sorted(by_depth[d], key=lambda r: r.start) for d in sorted(by_depth)]
        self.starts = [[r.start for r in rs] for rs in self.depths]

    def at(self, address: int) -> tuple[InlineCall, ...]:
        chain = []
        for ranges, starts in zip(self.depths, self.starts, strict=True):
            index = bisect.bisect_right(starts, address) - 1
            if index < 0 or address >= ranges[index].end:
                break
            r = ranges[index]
            chain.append(InlineCall(self.show(r.function), r.call_file, r.call_line))
        return tuple(chain)


class TargetNames:
    """Direct targets as ``symbol+0xoffset``: the function itself, then the symbols kept with it."""

    def __init__(self, name: str, code: FunctionCode, show: Callable[[str], str] = str) -> None:
        """``name`` is the function's name as shown; ``show`` names the other symbols so."""
        self.name = name
        self.show = show
        self.start, self.end = code.address, code.address + code.size
        self.symbols = sorted(code.symbols, key=lambda s: s.address)
        self.starts = [s.address for s in self.symbols]

    def label(self, target: int | None) -> str | None:
        if target is None:
            return None
        if self.start <= target < self.end:
            return plus_offset(self.name, target - self.start)
        index = bisect.bisect_right(self.starts, target) - 1
        if index >= 0 and target < self.symbols[index].address + max(self.symbols[index].size, 1):
            return plus_offset(self.show(self.symbols[index].name), target - self.symbols[index].address)
        return None


def plus_offset(name: str, offset: int) -> str:
    """``name+0x40``, or ``name`` at offset 0."""
    return f"{name}+{offset:#x}" if offset else name
