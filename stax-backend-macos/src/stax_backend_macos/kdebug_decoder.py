"""The kdebug buffer -> the :mod:`stax.events` stream, the same one the Linux backend emits.

Pure: it reads :class:`~stax_backend_macos.kd_buf.KdRecord` tuples and returns
events, so the live capture (records drained by ``sysctl(KERN_KDREADTR)``) and
``stax import FILE.ktrace`` share every line of it, and tests drive it with bytes
built from the documented layouts.  Each job has its own module:

* kperf samples (:mod:`.kperf_samples`) -> :class:`~stax.events.Sample`, weighted by the
  timer period; a sample whose user stack was deferred is held until the thread's
  user-only block delivers it; samples taken at a context switch are not on-CPU time:
  their stacks go to the off-CPU span that just ended;
* scheduler events (:mod:`.sched_switches`) -> OffCpuInterval and Wakeup, with the
  blocked reason from the call in progress (:mod:`.wait_reasons`);
* thread events (:mod:`.thread_events`) -> ThreadStart / ThreadName / ThreadExit;
* dyld events (:mod:`.image_events`) -> ImageLoad with the Mach-O UUID;
* PMU counters (PERF_KPC_DATA_THREAD in samples) -> CounterValues per thread: the
  difference between its first and last reading, since kpc's thread counters run
  from when counting was enabled;
* TRACE_LOST_EVENTS -> LostNotice.

Every batch passes :class:`~stax_backend_macos.plausible.Plausible` on the way out, so a
damaged record cannot put a value no recording can hold into the stream.

Times become nanoseconds with the trace's timebase: ns = ticks * numer / denom.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from stax.events import (
    CounterValues,
    Event,
    LostKind,
    LostNotice,
    Sample,
    ThreadExit,
    ThreadName,
    ThreadStart,
)
from stax_backend_macos.image_events import ImageEvents
from stax_backend_macos.kd_buf import KdRecord, ThreadMapEntry
from stax_backend_macos.kdebug_codes import (
    DBG_DYLD,
    DBG_MACH,
    DBG_PERF,
    DBG_TRACE,
    KDBG_CSC_MASK,
    KDBG_EVENTID_MASK,
    MACH_SCHED_CSC,
    TRACE_LOST_EVENTS,
    TRACE_STRING_GLOBAL,
)
from stax_backend_macos.kperf_samples import KperfSample, SampleAssembler
from stax_backend_macos.plausible import Plausible
from stax_backend_macos.sched_switches import SchedSwitches
from stax_backend_macos.thread_events import ThreadEvents, ThreadTable
from stax_backend_macos.trace_strings import TraceStrings
from stax_backend_macos.wait_reasons import CallTracker


@attrs.frozen(slots=True)
class Timebase:
    """mach_timebase_info: ``ticks * numer / denom`` nanoseconds."""

    numer: int = 1
    denom: int = 1

    def ns(self, ticks: int) -> int:
        return ticks * self.numer // self.denom


@attrs.define(slots=True)
class _Counters:
    first_time: int
    first: tuple[int, ...]
    last_time: int
    last: tuple[int, ...]


class KdebugDecoder:
    """Feed records in time order with :meth:`feed`; call :meth:`finish` once at the end.

    ``period_ns`` is the weight of one on-CPU sample (the kperf timer period);
    ``pids`` keeps only those processes (None: everything), and with
    ``follow_children`` also the processes they fork; ``counter_names`` names the PMU
    counters by index (the kpc configuration's order).
    """

    def __init__(self, timebase: Timebase, period_ns: int, *, pids: Iterable[int] | None = None,
                 counter_names: Sequence[str] = (), follow_children: bool = False) -> None:
        self.timebase = timebase
        self.period_ns = period_ns
        self.pids = None if pids is None else set(pids)
        self.follow_children = follow_children
        self.counter_names = tuple(counter_names)
        clock = timebase.ns
        self.clock = clock
        self.table = ThreadTable()
        self.strings = TraceStrings()
        self.calls = CallTracker()
        self.samples = SampleAssembler()
        self.threads = ThreadEvents(self.table, self.strings, clock)
        self.images = ImageEvents(self.table, self.strings, clock)
        self.sched = SchedSwitches(self.table, self.calls, clock, self.pids)
        self.plausible = Plausible()
        self._pending_user: dict[int, list[KperfSample]] = {}
        self._counters: dict[tuple[int, int], _Counters] = {}
        self.sample_count = 0
        self.lost_events = 0
        self.unknown_process_samples = 0
        self.records = 0
        self.last_time = 0

    def seed_threads(self, entries: list[ThreadMapEntry], ticks: int) -> list[Event]:
        """The thread map taken when tracing began (``ticks``: when it was taken)."""
        return self.plausible(self.threads.seed(entries, self.clock(ticks)))

    def feed(self, records: Iterable[KdRecord]) -> list[Event]:
        """Decode records (in time order) into events."""
        return self.plausible(self._decode(records))

    def _decode(self, records: Iterable[KdRecord]) -> list[Event]:
        out: list[Event] = []
        for record in records:
            self.records += 1
            self.last_time = record.timestamp
            event_id = record.debugid & KDBG_EVENTID_MASK
            klass = event_id >> 24
            if klass == DBG_PERF:
                sample = self.samples.feed(record, event_id)
                if sample is not None:
                    out += self._sample(sample)
            elif klass == DBG_MACH:
                if event_id & KDBG_CSC_MASK == MACH_SCHED_CSC:
                    out += self.sched.feed(record, event_id)
                else:
                    self.calls.feed(record, event_id)
            elif klass == DBG_TRACE:
                out += self._trace(record, event_id)
            elif klass == DBG_DYLD:
                out += self.images.feed(record, event_id)
            else:
                self.calls.feed(record, event_id)
        return out

    def _trace(self, record: KdRecord, event_id: int) -> list[Event]:
        if event_id == TRACE_STRING_GLOBAL:
            self.strings.feed(record, event_id)
            return []
        if event_id == TRACE_LOST_EVENTS:
            self.lost_events += 1
            return [LostNotice(self.clock(record.timestamp), record.cpu, LostKind.LOST_RECORDS, 1)]
        events = self.threads.feed(record, event_id)
        out: list[Event] = []
        for event in events:
            if type(event) is ThreadName and event.is_exec:
                self.images.exec(event.pid)
            elif (type(event) is ThreadStart and self.follow_children and self.pids is not None
                  and event.parent_pid in self.pids):
                self.pids.add(event.pid)
            out.append(event)
            if type(event) is ThreadExit:
                out += self.sched.thread_exit(event.tid)
        return out

    # -- samples -----------------------------------------------------------------------------------

    def _sample(self, sample: KperfSample) -> list[Event]:
        tid = sample.tid
        if sample.pid is not None:
            self.table.note(tid, sample.pid)
        if sample.user_only:
            out: list[Event] = []
            for held in self._pending_user.pop(tid, ()):
                out += self._on_cpu(held, sample.user_frames, sample.user_truncated)
            return out + self.sched.user_stack(tid, sample.user_frames)
        if sample.idle:
            return []
        if sample.counters:
            self._count(sample)
        if sample.at_switch:
            return self.sched.blocked_stack(tid, sample.kernel_frames, sample.user_frames,
                                            sample.user_pending)
        if sample.user_pending:
            self._pending_user.setdefault(tid, []).append(sample)
            return []
        return self._on_cpu(sample, sample.user_frames, sample.user_truncated)

    def _on_cpu(self, sample: KperfSample, user_frames: tuple[int, ...], truncated: bool) -> list[Event]:
        pid = sample.pid if sample.pid is not None else self.table.pid(sample.tid)
        if pid is None:
            self.unknown_process_samples += 1
            return []
        if self.pids is not None and pid not in self.pids:
            return []
        self.sample_count += 1
        return [Sample(self.clock(sample.time), pid, sample.tid, sample.cpu, self.period_ns,
                       sample.kernel_frames, user_frames, truncated)]

    def _count(self, sample: KperfSample) -> None:
        pid = sample.pid if sample.pid is not None else self.table.pid(sample.tid)
        if pid is None:
            return
        key = (pid, sample.tid)
        found = self._counters.get(key)
        if found is None:
            self._counters[key] = _Counters(sample.time, sample.counters, sample.time, sample.counters)
        else:
            found.last_time, found.last = sample.time, sample.counters

    def _counter_events(self) -> list[Event]:
        out: list[Event] = []
        for (pid, tid), c in self._counters.items():
            if self.pids is not None and pid not in self.pids:
                continue
            values = {}
            for index, (first, last) in enumerate(zip(c.first, c.last, strict=False)):
                name = self.counter_names[index] if index < len(self.counter_names) else f"pmc{index}"
                if name:
                    values[name] = max(0, last - first)
            if values:
                out.append(CounterValues(self.clock(c.last_time), pid, tid, values))
        return out

    def finish(self) -> list[Event]:
        """What is still held when the trace ends: samples whose user stack never came, spans."""
        out: list[Event] = []
        for held in self._pending_user.values():
            for sample in held:
                out += self._on_cpu(sample, (), False)
        self._pending_user.clear()
        self.samples.abandon()
        out += self.sched.finish(self.clock(self.last_time))
        out += self._counter_events()
        return self.plausible(out)

    def skipped(self) -> dict[str, int]:
        """What could not be used, counted by a phrase naming it."""
        out = dict(self.samples.skipped)
        if self.strings.orphans:
            out["string events whose start was not in the trace"] = self.strings.orphans
        if self.images.unknown_process:
            out["image loads by threads of unknown processes"] = self.images.unknown_process
        if self.unknown_process_samples:
            out["samples of threads of unknown processes"] = self.unknown_process_samples
        if self.plausible.dropped:
            out["events with impossible ids or times (damaged records)"] = self.plausible.dropped
        return out
