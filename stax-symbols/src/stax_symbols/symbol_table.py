"""A sorted, immutable table of address ranges -> names, searched with bisect.

Every table-based source (ELF symbols, kallsyms, the vDSO, later perf maps) builds one of
these once and then answers each lookup in O(log n) without allocating, so resolving the
unique addresses of a recording costs microseconds per address.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable

# How far back a lookup walks when the nearest symbol ends before the address: far enough
# for a symbol nested in a larger one (a local label inside its function), short enough to
# stay O(1).
_NESTING_DEPTH = 8


class SymbolTable:
    """Ranges ``[start, end)`` with names; built from (start, end, name) rows in any order.

    When several rows share a start, the first one given wins, so builders pass their
    preferred alias first.  Ranges may nest; a lookup picks the innermost range holding
    the address.  Empty ranges (``end <= start``) are dropped.
    """

    __slots__ = ("_starts", "_ends", "_names")

    def __init__(self, rows: Iterable[tuple[int, int, str]]) -> None:
        chosen: dict[int, tuple[int, str]] = {}
        for start, end, name in rows:
            if end > start and name and start not in chosen:
                chosen[start] = (end, name)
        starts = sorted(chosen)
        self._starts = array("Q", starts)
        self._ends = array("Q", (chosen[s][0] for s in starts))
        self._names = [chosen[s][1] for s in starts]

    @classmethod
    def from_sorted(cls, starts: list[int], ends: list[int], names: list[str]) -> SymbolTable:
        """Adopt parallel lists already sorted by unique start, with non-empty ranges (fast path)."""
        table = cls.__new__(cls)
        table._starts = array("Q", starts)
        table._ends = array("Q", ends)
        table._names = names
        return table

    def __len__(self) -> int:
        return len(self._names)

    def lookup(self, address: int) -> tuple[str, int] | None:
        """(name, offset into the symbol) for ``address``, or None if no range holds it."""
        starts, ends = self._starts, self._ends
        index = bisect.bisect_right(starts, address) - 1
        if index < 0:
            return None
        if address < ends[index]:
            return self._names[index], address - starts[index]
        for i in range(index - 1, max(index - 1 - _NESTING_DEPTH, -1), -1):
            if address < ends[i]:
                return self._names[i], address - starts[i]
        return None

    def range_at(self, address: int) -> tuple[str, int, int] | None:
        """(name, start, end) of the range :meth:`lookup` picks for ``address``, or None."""
        hit = self.lookup(address)
        if hit is None:
            return None
        start = address - hit[1]
        index = bisect.bisect_left(self._starts, start)
        return hit[0], start, self._ends[index]

    def ranges_between(self, start: int, end: int) -> list[tuple[int, int, str]]:
        """(start, end, name) of every range starting in [start, end), by address."""
        first = bisect.bisect_left(self._starts, start)
        last = bisect.bisect_left(self._starts, end)
        return [(self._starts[i], self._ends[i], self._names[i]) for i in range(first, last)]

    def address_of(self, name: str) -> int | None:
        """The start of the first range called ``name`` (linear; for tests and tools)."""
        try:
            return self._starts[self._names.index(name)]
        except ValueError:
            return None
