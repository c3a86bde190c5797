"""Where each thread's time went: on CPU, blocked (by reason), waiting for a CPU; who woke it.

The numbers behind ``stax threads``.  Each figure is one SQL ``GROUP BY`` per
thread over the recording; nothing here looks at stacks.  Runnable wait
(preempted spans) is kept apart from blocked time: the thread wanted to run and
the fix is fewer threads or more CPUs, not less waiting.
"""

from __future__ import annotations

import attrs

from stax.analysis.frame_names import frame_labels
from stax.analysis.sample_weight import SampleWeight, sample_weight
from stax.analysis.wakeup_context import RawStackContexts
from stax.blocked_reason import BlockedReason
from stax.recording.reader import IDLE_TASK_NAME, Recording, SampleFilter, thread_label

__all__ = ["IDLE_TASK_NAME", "thread_label"]  # where the views have always found them

ALL_SELECTED = SampleFilter()
PREEMPTED = str(BlockedReason.PREEMPTED)


@attrs.frozen(slots=True)
class WakerCount:
    """A thread (or an interrupt) that woke another one ``count`` times.

    Interrupt-context wakeups are counted under the interrupt (``[timer interrupt]``),
    with ``pid`` and ``tid`` None: the thread they landed on did not do the waking.
    """

    pid: int | None
    tid: int | None
    name: str
    count: int

    @property
    def is_interrupt(self) -> bool:
        return self.tid is None


@attrs.frozen(slots=True)
class ThreadBreakdown:
    """One thread's on-CPU, blocked and runnable-wait time, its wakeups and counters."""

    pid: int
    tid: int
    name: str
    process_name: str
    samples: int
    on_cpu_ns: int
    blocked: tuple[tuple[str, int], ...]
    """(reason, ns) of blocked time, most first; preempted is never here."""
    blocked_spans: int
    runnable_ns: int
    """Runnable wait: preempted, waiting for a CPU."""
    runnable_spans: int
    wakeups_received: int
    wakers: tuple[WakerCount, ...]
    """Who woke this thread, most wakeups first."""
    counters: tuple[tuple[str, int], ...] = ()
    """Hardware counter totals (name, value), when the recording has them."""
    only_woken: bool = False
    """Not a thread of the selection: it only shows up as woken by one (``stax threads --woken``)."""
    events: int = 0
    """The events its samples stand for, when the sampling event is not a clock (``-e page-faults``,
    :mod:`stax.analysis.sample_weight`); ``on_cpu_ns`` is then 0, since events are not CPU time."""

    @property
    def blocked_ns(self) -> int:
        return sum(ns for _, ns in self.blocked)

    @property
    def total_ns(self) -> int:
        """On-CPU plus blocked plus runnable-wait time: the order of ``stax threads``."""
        return self.on_cpu_ns + self.blocked_ns + self.runnable_ns

    @property
    def ipc(self) -> float | None:
        """Instructions per cycle, when both counters were captured."""
        counters = dict(self.counters)
        cycles, instructions = counters.get("cycles"), counters.get("instructions")
        if not cycles or instructions is None:
            return None
        return instructions / cycles


@attrs.frozen(slots=True)
class ThreadBreakdownView:
    """What ``stax threads`` draws (``ViewKind.THREAD_BREAKDOWN``): the threads and what to say of them."""

    source: str
    """The recording, as the user named it."""
    threads: tuple[ThreadBreakdown, ...]
    """The threads shown (the first ``-n``), most total time first."""
    thread_count: int
    """Threads selected in all, shown or not."""
    has_off_cpu: bool
    """Whether the recording holds off-CPU spans at all (without them, blocked time reads 0)."""
    notes: tuple[str, ...] = ()
    """What the recording lacks that these figures depend on, with the fix."""
    woken_hidden: int = 0
    """Threads left out because they were only woken by the selected ones (``--woken`` shows them)."""
    incomplete: str | None = None
    """The "incomplete recording" sentence when ``stax record`` did not finish the file."""
    weight: SampleWeight = SampleWeight()
    """What the samples weigh: CPU time (``on_cpu_ns``), or another event's count (``events``)."""


def thread_breakdown(recording: Recording, flt: SampleFilter = ALL_SELECTED,
                     woken: bool = False) -> list[ThreadBreakdown]:
    """Every thread passing ``flt`` with samples or off-CPU spans (the target's threads), most
    total time first; with ``woken`` also the threads that only show up as woken (a shell, a
    kernel worker, another program the target woke), which the recording has nothing else of."""
    is_time = sample_weight(recording.meta()).is_time
    keys: set[tuple[int, int]] = set()
    on_cpu: dict[tuple[int, int], tuple[int, int]] = {}
    for pid, tid, count, weight in recording.thread_totals(flt):
        on_cpu[(pid, tid)] = (count, weight or 0)
        keys.add((pid, tid))
    blocked: dict[tuple[int, int], dict[str, int]] = {}
    blocked_spans: dict[tuple[int, int], int] = {}
    runnable: dict[tuple[int, int], tuple[int, int]] = {}
    for pid, tid, reason, count, ns in recording.thread_off_cpu(flt):
        key = (pid, tid)
        keys.add(key)
        if reason == PREEMPTED:
            spans, total = runnable.get(key, (0, 0))
            runnable[key] = (spans + count, total + (ns or 0))
        else:
            split = blocked.setdefault(key, {})
            split[reason] = split.get(reason, 0) + (ns or 0)
            blocked_spans[key] = blocked_spans.get(key, 0) + count
    names = {(t.pid, t.tid): (t.name, t.process_name) for t in recording.threads()}
    tid_names = {tid: name for (_, tid), (name, _) in names.items()}
    target = set(keys)
    contexts = RawStackContexts(frame_labels(recording), *recording.stack_arrays(), recording.path)
    woken: dict[tuple[int, int], dict[tuple[int | None, int | None, str], int]] = {}
    for pid, tid, waker_pid, waker_tid, stack_id, count in recording.wakeup_stack_pairs(flt):
        keys.add((pid, tid))
        interrupt = contexts.interrupt_of(stack_id)
        if interrupt is not None:
            key: tuple[int | None, int | None, str] = (None, None, interrupt)
        else:
            key = (waker_pid, waker_tid, thread_label(tid_names.get(waker_tid), waker_tid))
        counts = woken.setdefault((pid, tid), {})
        counts[key] = counts.get(key, 0) + count
    wakers = {thread: [WakerCount(*key, count) for key, count in counts.items()]
              for thread, counts in woken.items()}
    counters: dict[tuple[int, int], dict[str, int]] = {}
    for pid, tid, name, value in recording.counter_totals(flt):
        counters.setdefault((pid, tid), {})[name] = value
    rows = []
    for key in keys if woken else target:
        pid, tid = key
        name, process = names.get(key, (None, None))
        name, process = thread_label(name, tid), thread_label(process, tid)
        samples, weight = on_cpu.get(key, (0, 0))
        runnable_spans, runnable_ns = runnable.get(key, (0, 0))
        woke = sorted(wakers.get(key, ()), key=lambda w: (-w.count, w.name, w.tid or 0))
        rows.append(ThreadBreakdown(
            pid=pid, tid=tid, name=name, process_name=process,
            samples=samples, on_cpu_ns=weight if is_time else 0, events=0 if is_time else weight,
            blocked=tuple(sorted(blocked.get(key, {}).items(), key=lambda r: (-r[1], r[0]))),
            blocked_spans=blocked_spans.get(key, 0),
            runnable_ns=runnable_ns, runnable_spans=runnable_spans,
            wakeups_received=sum(w.count for w in woke), wakers=tuple(woke),
            counters=tuple(sorted(counters.get(key, {}).items())),
            only_woken=key not in target,
        ))
    rows.sort(key=lambda r: (-r.total_ns, r.pid, r.tid))
    return rows
