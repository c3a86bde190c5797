"""Merge per-CPU record streams into one time-ordered stream, round by round.

Each CPU's ring is in time order, but the rings are read one after another, so a
record on CPU 1 may be older than one already read from CPU 0.  Anything stamped at
or before the newest time seen in the *previous* round was committed to its ring
before that round ended, so it has been read by now: after round k it is safe to
deliver everything up to the newest time of round k-1 (perf's "finished round").
At the end everything left is flushed.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from operator import attrgetter

from stax.events import Event

_time = attrgetter("time")


class TimeOrderer:
    """Holds events back until no ring can still produce an older one."""

    def __init__(self) -> None:
        self._pending: list[Event] = []
        self._previous_round_max: int | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, events: Iterable[Event]) -> None:
        """Queue events that are known to be older than anything a ring will still deliver."""
        self._pending.extend(events)

    def round(self, per_ring: Sequence[Sequence[Event]]) -> list[Event]:
        """Add one round's events (one list per ring); return what is now safe."""
        round_max = self._previous_round_max
        for events in per_ring:
            if events:
                self._pending.extend(events)
                newest = max(map(_time, events))
                if round_max is None or newest > round_max:
                    round_max = newest
        threshold = self._previous_round_max
        self._previous_round_max = round_max
        if threshold is None or not self._pending:
            return []
        self._pending.sort(key=_time)
        cut = bisect.bisect_right(self._pending, threshold, key=_time)
        ready = self._pending[:cut]
        del self._pending[:cut]
        return ready

    def flush(self) -> list[Event]:
        """Everything still held, sorted (the capture is over)."""
        self._pending.sort(key=_time)
        ready, self._pending = self._pending, []
        return ready
