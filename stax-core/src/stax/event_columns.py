"""Runs of the hot events in columns: on-CPU samples, off-CPU spans and wakeups.

A backend that decodes in compiled code (stax-backend-linux's capture stream) can hand a
sink whole columns instead of one object per event: at ~100k context switches a second,
making, ordering and dispatching the objects cost more CPU than the program profiled.
An :class:`EventColumns` stands where its events would stand in the time-ordered stream
(a run between two other events) and refers to stacks by index into a :class:`RawStacks`
that the backend appends to and shares between runs, so a repeated stack crosses into
Python once.  Each column keeps its events' order; the three tables are independent.

The per-row work a sink still has on a run -- the stack id of each raw stack, the samples
added up per (pid, tid, stack) -- goes through the run's :class:`RawStacks`
(:meth:`RawStacks.translate`, :meth:`RawStacks.add_up`): plain Python here, compiled code
where the backend has it, so a run crosses from the rings to the file with no Python step
per row.

A sink takes columns only if it says so (``accepts_columns = True``, as the recording
builder does); any other sink gets :func:`expand_columns`, the same events as objects.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence

from stax.blocked_reason import BlockedReason
from stax.events import Event, IpTuple, OffCpuInterval, Sample, Wakeup

RawStack = tuple[int, IpTuple, IpTuple, bool]
"""(pid, kernel ips, user ips, user stack truncated), both parts leaf first, as a backend read them."""


class RawStacks:
    """Stacks by index, as a backend deduplicated them; index 0 is the empty stack."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: list[RawStack] = [(0, (), (), False)]

    def __len__(self) -> int:
        return len(self.entries)

    # The sink's work per row of a run; a backend with compiled code overrides both.

    def translate(self, table: array, raws: array) -> tuple[array, array]:
        """``table[raw]`` for each raw index in ``raws`` (the sink's id of each raw stack), -1 where
        the index is outside the table or its entry is negative; and the raw index of each row
        that got -1, in row order."""
        size = len(table)
        out = array("q", [table[raw] if 0 <= raw < size and table[raw] >= 0 else -1 for raw in raws])
        return out, array("q", [raw for raw, got in zip(raws, out, strict=True) if got < 0])

    def add_up(self, pid: array, tid: array, stack: array, weight: array) -> tuple[array, ...]:
        """The rows added up per distinct (pid, tid, stack), in order of first appearance:
        columns (pid, tid, stack, count, weight sum)."""
        counts: Counter = Counter(zip(pid, tid, stack, strict=True))
        weights: Counter = Counter()
        for key, value in zip(zip(pid, tid, stack, strict=True), weight, strict=True):
            weights[key] += value
        keys = list(counts)
        return (array("q", [k[0] for k in keys]), array("q", [k[1] for k in keys]),
                array("q", [k[2] for k in keys]), array("q", counts.values()),
                array("q", map(weights.__getitem__, keys)))


INT_COLUMNS = ("sample_time", "sample_pid", "sample_tid", "sample_cpu", "sample_weight", "sample_stack",
               "span_start", "span_end", "span_pid", "span_tid", "span_cpu", "span_stack", "span_waker",
               "span_wakeup", "wake_time", "wake_cpu", "wake_waker_pid", "wake_waker_tid", "wake_wakee_pid",
               "wake_wakee_tid",
               "wake_stack", "thread_pid", "thread_tid", "thread_time")
"""The columns that hold integers (array('q')); span_reason and span_wait_site hold strings."""


class EventColumns:
    """One run of samples, spans and wakeups; ``*_stack`` columns index :attr:`stacks`.

    ``span_waker`` is -1 where no wakeup inside the span is known; ``span_wakeup`` is that
    wakeup (the wakee's last one inside the span) as its index among all the wakeups the
    backend delivers, counted from 0, and ``wake_first`` is the index of this run's first
    wakeup row.  ``thread_*``: threads seen for the first time in this run (by a sample, or
    a span's start), with that time.
    """

    __slots__ = ("stacks", "span_reason", "span_wait_site", "wake_first", *INT_COLUMNS)

    def __init__(self, stacks: RawStacks) -> None:
        self.stacks = stacks
        for name in INT_COLUMNS:
            setattr(self, name, array("q"))
        self.span_reason: Sequence[str] = ()
        """:class:`BlockedReason` values ('preempted', 'other', ...)."""
        self.span_wait_site: Sequence[str] = ()
        self.wake_first = 0

    def __len__(self) -> int:
        return len(self.sample_time) + len(self.span_start) + len(self.wake_time)

    def __repr__(self) -> str:
        return (f"EventColumns({len(self.sample_time)} samples, {len(self.span_start)} spans, "
                f"{len(self.wake_time)} wakeups)")

    def expand(self) -> list[Event]:
        """The same events as objects, samples then spans then wakeups (each in its order)."""
        entries = self.stacks.entries
        out: list[Event] = []
        for time, pid, tid, cpu, weight, raw in zip(self.sample_time, self.sample_pid, self.sample_tid,
                                                     self.sample_cpu, self.sample_weight, self.sample_stack,
                                                     strict=True):
            _pid, kernel, user, truncated = entries[raw]
            out.append(Sample(time, pid, tid, cpu, weight, kernel, user, truncated))
        for start, end, pid, tid, cpu, reason, site, raw, waker in zip(
                self.span_start, self.span_end, self.span_pid, self.span_tid, self.span_cpu, self.span_reason,
                self.span_wait_site, self.span_stack, self.span_waker, strict=True):
            _pid, kernel, user, _truncated = entries[raw]
            out.append(OffCpuInterval(start, end, pid, tid, cpu, BlockedReason(reason), site, kernel, user,
                                      None if waker < 0 else waker))
        for time, cpu, waker_pid, waker_tid, wakee_pid, wakee_tid, raw in zip(
                self.wake_time, self.wake_cpu, self.wake_waker_pid, self.wake_waker_tid, self.wake_wakee_pid,
                self.wake_wakee_tid, self.wake_stack, strict=True):
            _pid, kernel, user, _truncated = entries[raw]
            out.append(Wakeup(time, cpu, waker_pid, waker_tid, wakee_pid, wakee_tid, kernel, user))
        return out


def expand_columns(events: Sequence[object]) -> list[Event]:
    """``events`` with every :class:`EventColumns` replaced by its events (for sinks without columns)."""
    out: list[Event] = []
    for event in events:
        if type(event) is EventColumns:
            out.extend(event.expand())
        else:
            out.append(event)  # type: ignore[arg-type]
    return out
