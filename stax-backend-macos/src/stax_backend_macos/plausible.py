"""The last check before events leave the decoder: values a recording can hold.

kdebug records carry ids, times and addresses as raw 64-bit words, so a damaged
trace (a file cut or corrupted in transit) can produce a thread id above 2^63 or a
time centuries away, which no SQLite integer holds.  Each event's ids and times must
fit a signed 64-bit integer; an image's end is clamped to the top of the address
space; counter deltas must fit too.  Events that do not are dropped and counted, so a
damaged file gives a recording of what is sound and a note, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from stax.events import (
    CounterValues,
    Event,
    ImageLoad,
    LostNotice,
    OffCpuInterval,
    Sample,
    ThreadExit,
    ThreadName,
    ThreadStart,
    Wakeup,
)

I64_MIN, I64_MAX, U64_MAX = -(2**63), 2**63 - 1, 2**64 - 1

INTEGER_FIELDS: dict[type, tuple[str, ...]] = {
    Sample: ("time", "pid", "tid", "cpu"),
    OffCpuInterval: ("start", "end", "pid", "tid", "cpu"),
    Wakeup: ("time", "cpu", "waker_pid", "waker_tid", "wakee_pid", "wakee_tid"),
    ThreadName: ("time", "pid", "tid"),
    ThreadStart: ("time", "pid", "tid", "parent_pid", "parent_tid"),
    ThreadExit: ("time", "pid", "tid"),
    ImageLoad: ("time", "pid"),
    CounterValues: ("time", "pid", "tid"),
    LostNotice: ("time", "cpu"),
}


class Plausible:
    """Filters event batches; ``dropped`` counts what was not."""

    def __init__(self) -> None:
        self.dropped = 0

    def __call__(self, events: Iterable[Event]) -> list[Event]:
        out = []
        for event in events:
            kind = type(event)
            if not all(I64_MIN <= getattr(event, name) <= I64_MAX for name in INTEGER_FIELDS[kind]):
                self.dropped += 1
                continue
            if kind is ImageLoad and event.end > U64_MAX:
                event = attrs.evolve(event, end=U64_MAX)
            elif kind is OffCpuInterval and not 0 <= (event.waker_tid or 0) <= I64_MAX:
                event = attrs.evolve(event, waker_tid=None)
            elif kind is CounterValues and not all(0 <= v <= I64_MAX for v in event.values.values()):
                self.dropped += 1
                continue
            out.append(event)
        return out
