"""Who woke each blocked stack: the wakeup chains behind ``stax wakers``.

Blocked time says where a thread waited; the waker says what it waited *for*.
The recording links every off-CPU span to the wakeup that ended it (the wakee's
last ``sched_waking`` inside the span), and a wakeup carries the waker's thread
and stack.  Here the spans are grouped by (blocked stack, reason) and, inside
each, by (waker thread, waker stack), all in one SQL ``GROUP BY``; Python then
works once per distinct combination.  Stacks are merged per display frame, as
in every other view, so two addresses in one function are one stack.  A wakeup
done in interrupt context (a timer, an I/O completion) is credited to the
interrupt, with its stack from the interrupt entry on, not to the thread it
happened to interrupt (see :mod:`stax.analysis.wakeup_context`).
"""

from __future__ import annotations

import attrs

from stax.analysis.profile import DisplayFrame, DisplayTreeBuilder
from stax.analysis.thread_breakdown import ALL_SELECTED, IDLE_TASK_NAME
from stax.analysis.wakeup_context import interrupt_name, interrupt_start
from stax.recording.reader import Recording, SampleFilter

_WakerKey = tuple[int | None, int | None, str, tuple[DisplayFrame, ...]]
"""(pid, tid, name, stack) of a waker: pid and tid None for an interrupt."""


@attrs.frozen(slots=True)
class ChainThread:
    """A thread that blocked on a chain's stack."""

    pid: int
    tid: int
    name: str
    spans: int
    ns: int


@attrs.frozen(slots=True)
class ChainWaker:
    """A waker thread (or interrupt) and its stack at the wakeup, for the spans it ended.

    ``pid`` and ``tid`` are None for an interrupt (``name`` then says which kind), whose
    stack starts at the interrupt entry.
    """

    pid: int | None
    tid: int | None
    name: str
    stack: tuple[DisplayFrame, ...]
    """Root first; the kernel's wakeup code at the leaf end."""
    spans: int
    ns: int


@attrs.frozen(slots=True)
class WakeupChain:
    """One blocked stack and reason, its blocked time, and who ended those waits."""

    reason: str
    stack: tuple[DisplayFrame, ...]
    """Root first, the kernel wait site at the leaf end."""
    spans: int
    ns: int
    threads: tuple[ChainThread, ...]
    wakers: tuple[ChainWaker, ...]
    """Most blocked time first."""
    unwoken_spans: int
    unwoken_ns: int
    """Spans with no captured wakeup (e.g. signals, or wakeups lost or not recorded)."""


@attrs.frozen(slots=True)
class WakeupChains:
    """All chains of the selected blocked spans, most blocked time first."""

    chains: tuple[WakeupChain, ...]
    spans: int
    ns: int

    @property
    def woken_ns(self) -> int:
        """Blocked time ended by a captured wakeup."""
        return self.ns - sum(c.unwoken_ns for c in self.chains)


def wakeup_chains(recording: Recording, flt: SampleFilter = ALL_SELECTED) -> WakeupChains:
    """Group the blocked spans passing ``flt`` (the blocked threads) by stack, reason and waker."""
    builder = DisplayTreeBuilder(recording.frame_labels(), *recording.stack_arrays())
    names = {t.tid: t.name for t in recording.threads()}

    def name_of(tid: int) -> str:
        return names.get(tid) or (IDLE_TASK_NAME if tid == 0 else "?")

    waker_keys: dict[tuple[int, int, int], _WakerKey] = {}

    def waker_key(pid: int, tid: int, node: int) -> _WakerKey:
        """(pid, tid, name, stack) of a waker; interrupts merge across the threads they hit."""
        key = waker_keys.get((pid, tid, node))
        if key is None:
            stack = builder.path(node)
            start = interrupt_start(stack)
            if start is None:
                key = (pid, tid, name_of(tid), stack)
            else:
                key = (None, None, interrupt_name(stack[start:]), stack[start:])
            waker_keys[(pid, tid, node)] = key
        return key

    # (display node, reason) -> thread totals, waker totals, unwoken totals
    groups: dict[tuple[int, str], _Group] = {}
    for (pid, tid, stack_id, reason, waker_pid, waker_tid, waker_stack, count,
         ns) in recording.off_cpu_wakers(flt):
        ns = ns or 0
        key = (builder.node_of(stack_id), reason)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group()
        group.add_thread(pid, tid, count, ns)
        if waker_tid is None:
            group.unwoken[0] += count
            group.unwoken[1] += ns
        else:
            group.add_waker(waker_key(waker_pid, waker_tid, builder.node_of(waker_stack)), count, ns)
    chains = []
    for (node, reason), group in groups.items():
        threads = sorted(
            (ChainThread(pid, tid, name_of(tid), n, ns) for (pid, tid), (n, ns) in group.threads.items()),
            key=lambda t: (-t.ns, t.tid))
        wakers = sorted((ChainWaker(*key, n, ns) for key, (n, ns) in group.wakers.items()),
                        key=lambda w: (-w.ns, -w.spans, w.name, w.tid or 0))
        chains.append(WakeupChain(
            reason=reason, stack=builder.path(node),
            spans=sum(t.spans for t in threads), ns=sum(t.ns for t in threads),
            threads=tuple(threads), wakers=tuple(wakers),
            unwoken_spans=group.unwoken[0], unwoken_ns=group.unwoken[1]))
    chains.sort(key=lambda c: (-c.ns, -c.spans, c.reason))
    return WakeupChains(tuple(chains), sum(c.spans for c in chains), sum(c.ns for c in chains))


class _Group:
    """Running totals of one (blocked stack, reason) while the rows stream in."""

    __slots__ = ("threads", "unwoken", "wakers")

    def __init__(self) -> None:
        self.threads: dict[tuple[int, int], list[int]] = {}
        self.wakers: dict[_WakerKey, list[int]] = {}
        self.unwoken = [0, 0]

    def add_thread(self, pid: int, tid: int, count: int, ns: int) -> None:
        totals = self.threads.setdefault((pid, tid), [0, 0])
        totals[0] += count
        totals[1] += ns

    def add_waker(self, key: _WakerKey, count: int, ns: int) -> None:
        totals = self.wakers.setdefault(key, [0, 0])
        totals[0] += count
        totals[1] += ns
