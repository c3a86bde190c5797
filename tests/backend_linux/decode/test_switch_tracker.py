"""switch_tracker / off_cpu_stream / wakeup_attribution on hand-made record streams."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stax.blocked_reason import BlockedReason
from stax.events import OffCpuInterval, Sample, ThreadExit, ThreadName, ThreadStart, Wakeup
from stax_backend_linux.off_cpu.records import SwitchRecord, SwitchStack, WakingRecord
from stax_backend_linux.off_cpu.stream import OffCpuStream
from stax_backend_linux.off_cpu.switch_tracker import SwitchTracker
from stax_backend_linux.off_cpu.wakeup_attribution import WakeupAttribution

SCHED, NANOSLEEP, PIPE_READ = 0x1000, 0x2000, 0x3000
SLEEP_STACK = (SCHED + 4, NANOSLEEP + 8)
PIPE_STACK = (SCHED + 4, PIPE_READ + 8)
USER = (0x401000, 0x401100)


def stream(*, target_only: bool = True, wakeups: bool = True, use_wchan: bool = False,
           keep_kernel_ips: bool = True, name_from_proc: bool = False) -> OffCpuStream:
    """A stream over made-up tids (so, by default, naming outsiders from /proc is off)."""
    threads: dict[int, int] = {}
    tracker = SwitchTracker(keep_kernel_ips=keep_kernel_ips, use_wchan=use_wchan)
    attribution = WakeupAttribution(threads, target_only=target_only) if wakeups else None
    s = OffCpuStream(tracker, attribution, threads, name_from_proc)
    s.seed([(10, 10), (10, 11)])
    return s


def out(t: int, tid: int, preempt: bool = False, cpu: int = 0, pid: int = 10) -> SwitchRecord:
    return SwitchRecord(t, pid, tid, cpu, True, preempt)


def back(t: int, tid: int, cpu: int = 1, pid: int = 10) -> SwitchRecord:
    return SwitchRecord(t, pid, tid, cpu, False, False)


def test_voluntary_switch_out_to_switch_in_on_another_cpu_is_one_span_with_its_stack() -> None:
    # The reason stays 'other' here: the recording writer decides it from the named wait site.
    s = stream()
    events = s.process([SwitchStack(99, 10, 11, 0, SLEEP_STACK, USER), out(100, 11), back(1_000_100, 11)])
    (span,) = events
    assert span == OffCpuInterval(100, 1_000_100, 10, 11, 0, BlockedReason.OTHER, "",
                                  SLEEP_STACK, USER, None)


def test_preempted_switch_is_its_own_kind_and_keeps_its_stack() -> None:
    (span,) = stream().process([SwitchStack(99, 10, 11, 0, PIPE_STACK, USER), out(100, 11, preempt=True),
                                back(200, 11)])
    assert span.reason is BlockedReason.PREEMPTED and span.wait_site == ""
    assert span.user_ips == USER


def test_stack_from_another_cpu_or_too_old_is_not_used() -> None:
    s = stream()
    (a,) = s.process([SwitchStack(99, 10, 11, 1, SLEEP_STACK, USER), out(100, 11, cpu=0), back(200, 11)])
    late = 300 + 10**9
    (b,) = s.process([SwitchStack(300, 10, 11, 0, SLEEP_STACK, USER), out(late, 11), back(late + 5, 11)])
    for span in (a, b):
        assert span.kernel_ips == () and span.reason is BlockedReason.OTHER


def test_switch_in_without_switch_out_and_idle_task_are_ignored() -> None:
    s = stream()
    assert s.process([back(50, 11), out(60, 0, pid=0), back(70, 0, pid=0)]) == []


def test_wakeup_inside_the_span_names_the_waker_and_is_emitted_in_order() -> None:
    s = stream()
    events = s.process([out(100, 11), WakingRecord(150, 1, 10, 10, 11, (), USER), back(200, 11)])
    wakeup, span = events
    assert wakeup == Wakeup(150, 1, 10, 10, 10, 11, (), USER)
    assert span.waker_tid == 10


def test_target_filter_keeps_wakeups_touching_the_target_only() -> None:
    s = stream()
    kept = s.process([WakingRecord(1, 0, 99, 99, 11, (), ()),   # outsider wakes target thread 11
                      WakingRecord(2, 0, 10, 10, 77, (), ()),   # target wakes an outsider
                      WakingRecord(3, 0, 98, 98, 97, (), ())])  # outsiders only
    assert [(w.waker_tid, w.wakee_pid, w.wakee_tid) for w in kept] == [(99, 10, 11), (10, 77, 77)]
    everything = stream(target_only=False).process([WakingRecord(3, 0, 98, 98, 97, (), ())])
    assert len(everything) == 1


def test_threads_outside_the_target_are_named_from_proc_once() -> None:
    """A real outsider (this test's own thread) waking the target gets its /proc name, once;
    a tid /proc does not hold stays unnamed, and the wakeup filter still treats it as an outsider."""
    me = os.getpid()
    with open(f"/proc/{me}/task/{me}/comm") as f:
        comm = f.read().strip()
    s = stream(name_from_proc=True)
    gone = 1 << 22  # above pid_max's default: no such thread
    events = s.process([WakingRecord(1, 0, me, me, 11, (), ()), WakingRecord(2, 0, me, me, 11, (), ()),
                        WakingRecord(3, 0, gone, gone, 11, (), ()),
                        WakingRecord(4, 0, 98, 98, 97, (), ())])  # outsiders only: dropped
    assert [type(e) for e in events] == [ThreadName, Wakeup, Wakeup, Wakeup]
    assert (events[0].pid, events[0].tid, events[0].name) == (me, me, comm)
    assert me not in s.threads


def test_thread_table_follows_fork_so_new_threads_are_in_the_target() -> None:
    s = stream()
    events = s.process([ThreadStart(5, 10, 12, 10, 10), WakingRecord(6, 0, 99, 99, 12, (), ())])
    assert [type(e) for e in events] == [ThreadStart, Wakeup]
    assert events[1].wakee_pid == 10


def test_exited_thread_final_switch_out_is_dropped_and_open_spans_close_at_end() -> None:
    s = stream()
    events = s.process([out(100, 11), ThreadExit(150, 10, 12), out(160, 12)])
    assert [type(e) for e in events] == [ThreadExit]
    (span,) = s.finish(1000)
    assert (span.tid, span.start, span.end) == (11, 100, 1000)
    assert s.tracker.closed_at_end == 1


def test_samples_pass_through_and_private_records_never_leave() -> None:
    sample = Sample(5, 10, 11, 0, 1000)
    events = stream(wakeups=False).process([sample, SwitchStack(6, 10, 11, 0, (), ()),
                                            WakingRecord(7, 0, 10, 10, 11, (), ())])
    assert events == [sample]


def test_no_kernel_keeps_the_wchan_reason_but_drops_kernel_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    import stax_backend_linux.off_cpu.switch_tracker as st

    monkeypatch.setattr(st, "read_wchan", lambda pid, tid: "anon_pipe_read")
    s = stream(keep_kernel_ips=False, use_wchan=True)
    s.tracker.note_round([[out(100, 11)]])
    (span,) = s.process([SwitchStack(99, 10, 11, 0, PIPE_STACK, USER), out(100, 11), back(200, 11)])
    assert span.reason is BlockedReason.PIPE_IPC and span.wait_site == "anon_pipe_read"
    assert span.kernel_ips == () and span.user_ips == USER


def test_wchan_fallback_reads_parked_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import stax_backend_linux.off_cpu.switch_tracker as st

    monkeypatch.setattr(st, "read_wchan", lambda pid, tid: "do_nanosleep" if tid == 11 else "")
    s = stream(use_wchan=True)
    round_ = [out(100, 11), out(100, 12), back(120, 12), out(130, 12, preempt=True)]
    s.tracker.note_round([round_])
    assert s.tracker.wchan_reads == 1  # 12's newest switch was a preemption: not parked
    (span,) = s.process([out(100, 11), back(200, 11)])
    assert span.reason is BlockedReason.SLEEP and span.wait_site == "do_nanosleep"
    (unread,) = s.process([out(300, 11), back(400, 11)])
    assert unread.reason is BlockedReason.OTHER and unread.wait_site == ""
