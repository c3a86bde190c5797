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

from stax.analysis.frame_names import DEFAULT_STYLE, FrameStyle
from stax.analysis.profile import DisplayFrame, display_tree_builder
from stax.analysis.thread_breakdown import ALL_SELECTED, thread_label
from stax.analysis.wakeup_context import interrupt_name, interrupt_start
from stax.recording.reader import Recording, SampleFilter
from stax.recording.validation import total_fits


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
    """Most blocked time first (the first ``max_wakers`` of them when a limit was asked)."""
    unwoken_spans: int
    unwoken_ns: int
    """Spans with no captured wakeup (e.g. signals, or wakeups lost or not recorded)."""
    waker_count: int = 0
    """Distinct wakers (thread or interrupt, and stack), shown or not."""
    other_wakers_spans: int = 0
    other_wakers_ns: int = 0
    """Spans and time ended by the wakers left out of ``wakers``."""


@attrs.frozen(slots=True)
class WakeupChains:
    """The chains of the selected blocked spans, most blocked time first, and their totals."""

    chains: tuple[WakeupChain, ...]
    """The first ``limit`` chains when a limit was asked."""
    chain_count: int
    spans: int
    ns: int
    woken_ns: int
    """Blocked time ended by a captured wakeup (all chains)."""


@attrs.frozen(slots=True)
class WakeupChainsView:
    """What ``stax wakers`` draws (``ViewKind.WAKEUP_CHAINS``): the chains, and what to say about them."""

    source: str
    """The recording, as the user named it."""
    chains: WakeupChains
    """The first ``-n`` chains with their first ``-w`` wakers; totals over all of them."""
    notes: tuple[str, ...] = ()
    """What the recording lacks that these chains depend on (e.g. no wakeups), with the fix."""
    incomplete: str | None = None
    """The "incomplete recording" sentence when ``stax record`` did not finish the file."""


def wakeup_chains(recording: Recording, flt: SampleFilter = ALL_SELECTED, limit: int | None = None,
                  max_wakers: int | None = None, style: FrameStyle = DEFAULT_STYLE) -> WakeupChains:
    """Group the blocked spans passing ``flt`` (the blocked threads) by stack, reason and waker.

    Totals cover every chain; only the first ``limit`` chains, each with its first
    ``max_wakers`` wakers, are built into objects (None: all), so the cost of what is
    shown does not grow with everything that was recorded.
    """
    builder = display_tree_builder(recording, style, drop_non_code=True)
    names = {t.tid: t.name for t in recording.threads()}

    def name_of(tid: int) -> str:
        return thread_label(names.get(tid), tid)

    # A waker is interned to a small int once per distinct (pid, tid, stack): the rows
    # then add up under int keys, and names and stacks are built only for what is shown.
    # Each distinct waker stack is classified once: a thread's own, or an interrupt's,
    # which is keyed by its stack from the interrupt entry so that interrupts merge
    # across the threads they happened to hit.
    wakers: list[tuple[int | None, int | None, int, int]] = []  # (pid, tid, node, cut) per id
    waker_index: dict[tuple[int | None, int | None, int], int] = {}
    waker_ids: dict[tuple[int, int, int], int] = {}
    stack_context: dict[int, tuple[int, int, int]] = {}  # stack id -> (node, cut or -1, irq key)
    interrupt_keys: dict[tuple[DisplayFrame, ...], int] = {}

    def waker_id(pid: int, tid: int, stack_id: int) -> int:
        found = waker_ids.get((pid, tid, stack_id))
        if found is None:
            context = stack_context.get(stack_id)
            if context is None:
                node = builder.node_of(stack_id)
                path = builder.path(node)
                cut = interrupt_start(path)
                if cut is None:
                    context = (node, -1, -1)
                else:
                    irq = interrupt_keys.setdefault(path[cut:], len(interrupt_keys))
                    context = (node, cut, irq)
                stack_context[stack_id] = context
            node, cut, irq = context
            key = (pid, tid, node) if cut < 0 else (None, None, irq)
            found = waker_index.get(key)
            if found is None:
                found = waker_index[key] = len(wakers)
                wakers.append((key[0], key[1], node, cut))
            waker_ids[(pid, tid, stack_id)] = found
        return found

    def chain_waker(waker: int, spans: int, ns: int) -> ChainWaker:
        pid, tid, node, cut = wakers[waker]
        stack = builder.path(node)
        if tid is None:
            return ChainWaker(None, None, interrupt_name(stack[cut:]), stack[cut:], spans, ns)
        return ChainWaker(pid, tid, name_of(tid), stack, spans, ns)

    groups: dict[tuple[int, str], _Group] = {}  # (blocked display node, reason)
    node_of = builder.node_of
    for (pid, tid, stack_id, reason, waker_pid, waker_tid, waker_stack, count,
         ns) in recording.off_cpu_wakers(flt):
        ns = ns or 0
        key = (node_of(stack_id), reason)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group()
        group.add_thread(pid, tid, count, ns)
        if waker_tid is None:
            group.unwoken[0] += count
            group.unwoken[1] += ns
        else:
            _add(group.wakers, waker_id(waker_pid, waker_tid, waker_stack), count, ns)
    ordered = sorted(groups.items(), key=lambda item: (-item[1].ns, -item[1].spans, item[0][1]))
    chains = []
    for (node, reason), group in ordered if limit is None else ordered[:limit]:
        threads = sorted(
            (ChainThread(pid, tid, name_of(tid), n, ns) for (pid, tid), (n, ns) in group.threads.items()),
            key=lambda t: (-t.ns, t.tid))
        ranked = sorted(group.wakers.items(), key=lambda item: (-item[1][1], -item[1][0], item[0]))
        shown = ranked if max_wakers is None else ranked[:max_wakers]
        hidden = ranked[len(shown):]
        chains.append(WakeupChain(
            reason=reason, stack=builder.path(node), spans=group.spans, ns=group.ns,
            threads=tuple(threads),
            wakers=tuple(chain_waker(w, n, ns) for w, (n, ns) in shown),
            unwoken_spans=group.unwoken[0], unwoken_ns=group.unwoken[1],
            waker_count=len(ranked), other_wakers_spans=sum(n for _, (n, _) in hidden),
            other_wakers_ns=sum(ns for _, (_, ns) in hidden)))
    total_ns = sum(g.ns for g in groups.values())
    total_fits(recording.path, total_ns, "the off-CPU span durations")
    return WakeupChains(
        chains=tuple(chains), chain_count=len(groups), spans=sum(g.spans for g in groups.values()),
        ns=total_ns, woken_ns=total_ns - sum(g.unwoken[1] for g in groups.values()))


class _Group:
    """Running totals of one (blocked stack, reason) while the rows stream in."""

    __slots__ = ("ns", "spans", "threads", "unwoken", "wakers")

    def __init__(self) -> None:
        self.threads: dict[tuple[int, int], list[int]] = {}
        self.wakers: dict[int, list[int]] = {}
        self.unwoken = [0, 0]
        self.spans = 0
        self.ns = 0

    def add_thread(self, pid: int, tid: int, count: int, ns: int) -> None:
        """Every row adds to one thread, so the group's own totals are kept here."""
        _add(self.threads, (pid, tid), count, ns)
        self.spans += count
        self.ns += ns


def _add(table: dict, key: object, count: int, ns: int) -> None:
    totals = table.get(key)
    if totals is None:
        table[key] = [count, ns]
    else:
        totals[0] += count
        totals[1] += ns
