"""Per-thread counter totals of one recording, from READ records and the groups' final read().

Where each thread's counts come from (stax_binfmt.perf_counters explains the group shape):

* a thread that an opened group *inherited* (created during the recording) writes a
  PERF_RECORD_READ with its own values when it exits, on each CPU's group;
* the thread a group was opened on, and anything still running at the end, is what
  remains: a final read() of the group leader returns the whole inherited tree
  (the opened thread, plus the exited children the kernel added back, plus live
  children), so the remainder is that total minus the READ records of its group.

The kernel may swap an inherited thread's counter context with its parent's on a
context switch (perf_event_context_sched_out; ``inherit_stat`` swaps the counts back,
so each task keeps its own).  When that happened the opened thread itself exits
with a READ record, and the one thread holding the original context at exit does
not: the remainder is then given to the only thread of that tree that started
during the recording (PERF_RECORD_FORK) and wrote no READ record, and to the opened
thread when there is no such single thread (threads still running at the end).

Values are scaled by time_enabled / time_running over each thread's per-CPU reads
(decoder.combine).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from stax.events import CounterValues, Event, ThreadStart
from stax_backend_linux.capture.targets import PerCpuEvents
from stax_backend_linux.counters.decoder import CounterRead, GroupRead, combine, parse_group_read
from stax_backend_linux.counters.group import CounterGroup, read_group


class CounterCapture:
    """The counter groups of one capture, the READ records that reach its rings, and the totals."""

    def __init__(self, groups: Sequence[CounterGroup]) -> None:
        self.groups = list(groups)
        self.reads: list[CounterRead] = []
        """Filled by the record decoder (``RecordDecoder.counter_reads``)."""
        self._key: dict[int, str] = {}
        self._opened_tid: dict[int, int] = {}  # kernel id -> tid of the group it belongs to
        for group in self.groups:
            for event_id, key in zip(group.ids, group.keys, strict=True):
                self._key[event_id] = key
                self._opened_tid[event_id] = group.tid
        self._root: dict[int, int] = {group.tid: group.tid for group in self.groups}
        self._started: dict[int, list[tuple[int, int]]] = {}  # opened tid -> (pid, tid) created under it
        self.unmatched_reads = 0

    def hand_over(self, rings: PerCpuEvents) -> None:
        """Make every member a follower of its CPU's sampling leader (SET_OUTPUT after mapping)."""
        for group in self.groups:
            rings.followers[rings.cpus.index(group.cpu)].extend(group.fds)

    def observe(self, events: Iterable[Event]) -> None:
        """Follow thread creation (time-ordered events) to know which opened thread each one descends from."""
        root = self._root
        for event in events:
            if type(event) is ThreadStart and event.parent_tid in root and event.tid not in root:
                origin = root[event.parent_tid]
                root[event.tid] = origin
                self._started.setdefault(origin, []).append((event.pid, event.tid))

    def finish(self, end_time: int) -> list[CounterValues]:
        """Read every group (events already disabled) and return one CounterValues per thread."""
        # Each member of an exiting thread's group writes a READ (inherit_stat), the later ones
        # with fewer members as the group comes apart: keep the fullest per (thread, group).
        fullest: dict[tuple[int, int], CounterRead] = {}
        for read in self.reads:
            values = read.read.values
            if not values or values[0][0] not in self._opened_tid:
                self.unmatched_reads += 1
                continue
            key = (read.tid, values[0][0])  # the leader's id names the group (and so its CPU)
            if key not in fullest or len(values) > len(fullest[key].read.values):
                fullest[key] = read
        per_thread: dict[tuple[int, int], list[GroupRead]] = {}
        exited_at: dict[tuple[int, int], int] = {}
        origin_of: dict[tuple[int, int], int] = {}
        for read in fullest.values():
            thread = (read.pid, read.tid)
            per_thread.setdefault(thread, []).append(read.read)
            exited_at[thread] = max(exited_at.get(thread, 0), read.time)
            origin_of[thread] = self._opened_tid[read.read.values[0][0]]
        out = {thread: combine(reads, self._key) for thread, reads in per_thread.items()}
        exited_under: dict[int, dict[str, int]] = {}  # opened tid -> sum of its exited threads
        for thread, values in out.items():
            under = exited_under.setdefault(origin_of[thread], {})
            for name, value in values.items():
                under[name] = under.get(name, 0) + value

        finals: dict[tuple[int, int], list[GroupRead]] = {}  # (pid, opened tid) -> its per-CPU reads
        for group in self.groups:
            try:
                read, _ = parse_group_read(read_group(group.leader, len(group.fds)))
            except (OSError, ValueError):
                continue
            finals.setdefault((group.pid, group.tid), []).append(read)

        times = dict(exited_at)
        for (pid, tid), reads in finals.items():
            under = exited_under.get(tid, {})
            whole = combine(reads, self._key)
            rest = {name: max(0, value - under.get(name, 0)) for name, value in whole.items()}
            owner = (pid, tid)
            if owner in out:  # the opened thread exited as a clone: see the module doc
                silent = [t for t in self._started.get(tid, []) if t not in out]
                if len(silent) == 1:
                    owner = silent[0]
            values = out.setdefault(owner, {})
            for name, value in rest.items():
                values[name] = values.get(name, 0) + value
            times.setdefault(owner, end_time)
        return [CounterValues(times[thread], thread[0], thread[1], values)
                for thread, values in sorted(out.items()) if any(values.values()) or thread in exited_at]
