"""Latest-wins range lookup: which of many, possibly overlapping, code ranges holds an address.

JIT runtimes append to their perf map or jitdump as they compile; when code is freed and
the address range reused, a later entry describes what lives there now.  So among all
ranges holding an address, the one written *last* names it.  Perf maps and jitdump both
resolve their addresses through :func:`latest_covering`, after :func:`plausible_range`
has dropped the ranges no real code occupies.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

ADDRESS_LIMIT = 1 << 64
"""Code ends at or below 2^64: a range past it is damaged (or made up)."""
MAX_CODE_SIZE = 1 << 30
"""No jitted function is a gigabyte; a larger size means the entry is damaged (or made up)."""


def plausible_range(start: int, size: int) -> bool:
    """A code range a runtime could have written: non-empty, at most 1 GiB, ending by 2^64."""
    return 0 < size <= MAX_CODE_SIZE and 0 <= start and start + size <= ADDRESS_LIMIT


def latest_covering(
    starts: Sequence[int], ends: Sequence[int], addresses: Sequence[int]
) -> dict[int, int]:
    """Map each address to the index of the last range ``[starts[i], ends[i])`` holding it.

    ``starts``/``ends`` are in write order (index 0 is oldest); ``addresses`` are the
    unique addresses asked about, in any order.  Addresses no range holds are left out.

    Walks the ranges newest first and removes each address as soon as one claims it, so
    the cost is O(ranges x log addresses) and stops early once every address is named.
    """
    remaining = sorted(set(addresses))
    found: dict[int, int] = {}
    bisect_left = bisect.bisect_left
    for index in range(len(starts) - 1, -1, -1):
        if not remaining:
            break
        start, end = starts[index], ends[index]
        low = bisect_left(remaining, start)
        if low == len(remaining) or remaining[low] >= end:
            continue
        high = bisect_left(remaining, end, low)
        for address in remaining[low:high]:
            found[address] = index
        del remaining[low:high]
    return found
