"""The pure kdebug decoder over byte buffers built from the documented layouts (kdebug_builder.py)."""

from __future__ import annotations

import uuid

import pytest

from stax.blocked_reason import BlockedReason
from stax.events import (
    CounterValues,
    ImageKind,
    ImageLoad,
    LostNotice,
    OffCpuInterval,
    Sample,
    ThreadExit,
    ThreadName,
    ThreadStart,
    Wakeup,
)
from stax_backend_macos.kd_buf import records, thread_map
from stax_backend_macos.kdebug_decoder import KdebugDecoder, Timebase
from stax_backend_macos.sample_period import find_period
from tests.backend_macos.kdebug_builder import (
    DYLD_SHARED_CACHE_A,
    END,
    MS,
    PERF_CS_KDATA,
    PERF_CS_KHDR,
    PERF_GEN_EVENT,
    PERF_TI_DATA,
    START,
    TRACE_DATA_EXEC,
    TRACE_DATA_THREAD_TERMINATE,
    TRACE_LOST_EVENTS,
    TRACE_STRING_EXEC,
    US,
    Trace,
    pack_words,
    ticks,
)

PID, T1, T2, KT = 700, 0x5001, 0x5002, 0x77
U = 0x1000_0400_0000  # a user address
K = 0xFFFF_FE00_0700_0000  # a kernel address


APPLE_SILICON = Timebase(125, 3)


def decode(trace: Trace, *, period_ns: int = MS, timebase: Timebase = APPLE_SILICON,
           **kw) -> tuple[list, KdebugDecoder]:
    decoder = KdebugDecoder(timebase, period_ns, **kw)
    trace.records.sort(key=lambda r: r[0])  # the kernel hands records over in time order (stable here)
    events = decoder.seed_threads(thread_map(trace.thread_map_bytes()), 0)
    events += decoder.feed(records(trace.kd_bufs()))
    events += decoder.finish()
    return events, decoder


def of(events: list, kind: type) -> list:
    return [e for e in events if type(e) is kind]


def threads() -> Trace:
    t = Trace()
    t.thread(T1, PID, "app")
    t.thread(T2, PID, "app")
    t.thread(KT, 0, "kernel_task")
    return t


# -- samples ---------------------------------------------------------------------------------------


def test_a_stack_split_over_several_events_is_reassembled_without_the_fixup() -> None:
    t = threads()
    user = [U + 0x10 * i for i in range(9)]  # nine frames + the fixup word: three data events
    kernel = [K + 8, K + 16, K + 24, K + 32, K + 40]
    t.sample(1 * MS, PID, T1, user=user, kernel=kernel, cpu=3)
    events, _ = decode(t)
    assert of(events, Sample) == [Sample(1 * MS, PID, T1, 3, MS, tuple(kernel), tuple(user))]


def test_a_deferred_user_stack_reaches_every_held_sample_of_its_thread() -> None:
    t = threads()
    t.sample(1 * MS, PID, T1, user=[], kernel=[K + 1], user_later_ns=None)  # no user part at all
    t.event(2 * MS, PERF_GEN_EVENT | START, 0x5, 1, 0, 1, tid=T1)  # KSTACK, pended user stack
    t.event(2 * MS, PERF_TI_DATA, PID, T1, 0, 1, tid=T1)
    t.event(2 * MS, PERF_CS_KHDR, 0x1 | 0x8, 2, 0, 0, tid=T1)
    t.event(2 * MS, PERF_CS_KDATA, K + 2, 0xFF, 0, 0, tid=T1)
    t.event(2 * MS, PERF_GEN_EVENT | END, 0x5, 0x2, tid=T1)
    t.sample(3 * MS, PID, T1, user=[U + 9], kernel=[K + 3], user_later_ns=3 * MS + 50 * US)
    t.sample(3 * MS + 10 * US, PID, T2, user=[U + 7], cpu=1)  # another thread in between
    events, _ = decode(t)
    samples = of(events, Sample)
    assert [(s.time, s.tid, s.kernel_ips, s.user_ips) for s in samples] == [
        (1 * MS, T1, (K + 1,), ()),
        (3 * MS + 10 * US, T2, (), (U + 7,)),
        (2 * MS, T1, (K + 2,), (U + 9,)),  # held until the user-only block of 3.05 ms
        (3 * MS, T1, (K + 3,), (U + 9,)),
    ]


def test_a_user_stack_that_never_comes_leaves_the_kernel_part() -> None:
    t = threads()
    t.event(1 * MS, PERF_GEN_EVENT | START, 0x5, 1, 0, 1, tid=T1)
    t.event(1 * MS, PERF_TI_DATA, PID, T1, 0, 1, tid=T1)
    t.event(1 * MS, PERF_CS_KHDR, 0x1, 2, 0, 0, tid=T1)
    t.event(1 * MS, PERF_CS_KDATA, K + 5, 0xFF, tid=T1)
    t.event(1 * MS, PERF_GEN_EVENT | END, 0x5, 0x2, tid=T1)
    events, _ = decode(t)
    assert [(s.kernel_ips, s.user_ips) for s in of(events, Sample)] == [((K + 5,), ())]


def test_continuations_idle_samples_truncation_and_cut_blocks() -> None:
    t = threads()
    t.switch(500 * US, T1, KT)
    t.switch(1 * MS, KT, T1)
    # at a switch, blocked in a continuation:
    t.event(1 * MS, PERF_GEN_EVENT | START, 0x4, 1, 0, 0x11, tid=T1)
    t.event(1 * MS, PERF_TI_DATA, PID, T1, tid=T1)
    t.event(1 * MS, PERF_CS_KHDR, 0x1 | 0x20, 1, tid=T1)  # one word, the continuation, and no fixup
    t.event(1 * MS, PERF_CS_KDATA, K + 0x20, tid=T1)
    t.event(1 * MS, PERF_GEN_EVENT | END, 0x4, 0, tid=T1)
    t.event(2 * MS, PERF_GEN_EVENT | START, 0x4, 1, 0, 1, tid=T2, cpu=1)  # the thread was idle
    t.event(2 * MS, PERF_GEN_EVENT | END, 0x4, 0x1, tid=T2, cpu=1)
    t.sample(3 * MS, PID, T2, user=[U + 1, U + 2], user_truncated=True, cpu=1)
    t.event(4 * MS, PERF_GEN_EVENT | START, 0x4, 1, 0, 1, tid=T1)  # cut short by the next START
    t.sample(4 * MS + 1 * US, PID, T1, user=[U + 3])
    events, decoder = decode(t)
    assert [(s.tid, s.kernel_ips, s.user_ips, s.user_stack_truncated) for s in of(events, Sample)] == [
        (T2, (), (U + 1, U + 2), True), (T1, (), (U + 3,), False)]
    assert [s.kernel_ips for s in of(events, OffCpuInterval)] == [(K + 0x20,)]
    assert decoder.sample_count == 2
    assert decoder.skipped() == {"kperf samples cut short (a new sample began before the last ended)": 1}


def test_weight_timebase_and_pid_filter() -> None:
    t = threads()
    t.sample(3 * MS, PID, T1, user=[U])
    t.sample(4 * MS, 999, 0x9999, user=[U])
    events, _ = decode(t, period_ns=2 * MS, pids={PID})
    assert [(s.time, s.weight, s.pid) for s in of(events, Sample)] == [(3 * MS, 2 * MS, PID)]
    events, _ = decode(t, timebase=Timebase(1, 1))  # Intel Macs: ticks are nanoseconds
    assert [s.time for s in of(events, Sample)] == [ticks(3 * MS), ticks(4 * MS)]


def test_sample_period_from_the_timer_event_or_the_sample_gaps() -> None:
    t = threads()
    t.timer_fire(1 * MS, 250 * US)
    found = find_period(records(t.kd_bufs()), APPLE_SILICON)
    assert found == (250 * US, "the kperf timer period in the trace")
    t = threads()
    for ms in (10, 12, 14, 17, 19, 28):  # gaps 2, 2, 3, 2, 9 ms on CPU 0
        t.sample(ms * MS, PID, T1, user=[U])
    t.sample(5 * MS, PID, T2, user=[U], cpu=1, at_switch=True)  # switch samples do not count
    found = find_period(records(t.kd_bufs()), APPLE_SILICON)
    assert found == (2 * MS, "the median gap between timer samples")
    assert find_period([], Timebase(1, 1))[0] == MS


def test_counters_are_the_difference_between_a_threads_first_and_last_reading() -> None:
    t = threads()
    t.sample(1 * MS, PID, T1, user=[U], counters=[1000, 500, 7, 3])
    t.sample(2 * MS, PID, T1, user=[U], counters=[4000, 2500, 9, 3])
    t.sample(3 * MS, PID, T1, user=[U], counters=[9000, 6500, 10, 5])
    events, _ = decode(t, counter_names=("cycles", "instructions", "l1d-read-misses", "branch-misses"))
    assert of(events, CounterValues) == [CounterValues(3 * MS, PID, T1, {
        "cycles": 8000, "instructions": 6000, "l1d-read-misses": 3, "branch-misses": 2})]


# -- the scheduler -----------------------------------------------------------------------------------


def test_spans_are_exact_and_say_why_and_who_woke_them() -> None:
    t = threads()
    t.syscall(1 * MS, T1, 305)  # psynch_cvwait
    t.switch(1 * MS, T1, KT)
    t.make_runnable(4 * MS, T2, T1, cpu=1)
    t.switch(4 * MS + 7 * US, KT, T1)
    t.syscall(5 * MS, T1, 305, end=True)
    t.switch(6 * MS, T1, T2, reason=0x1)  # AST_PREEMPT: runnable, waiting for a CPU
    t.switch(6 * MS + 300 * US, T2, T1)
    t.event(7 * MS, 0x010C0000 | (31 << 2) | START, tid=T1)  # mach_msg_trap
    t.switch(7 * MS, T1, KT)
    t.switch(8 * MS, KT, T1)
    t.event(9 * MS, 0x01300008 | START, tid=T1)  # a page fault
    t.switch(9 * MS, T1, KT)
    t.switch(9 * MS + 40 * US, KT, T1)
    t.event(9 * MS + 41 * US, 0x01300008 | END, tid=T1)
    t.syscall(10 * MS, T1, 3)  # read: says nothing about why
    t.switch(10 * MS, T1, KT)
    t.switch(11 * MS, KT, T1)
    events, _ = decode(t)
    spans = [(s.start, s.end, s.tid, s.reason, s.wait_site, s.waker_tid) for s in of(events, OffCpuInterval)]
    assert sorted(spans) == sorted([
        (1 * MS, 4 * MS + 7 * US, T1, BlockedReason.LOCK, "psynch_cvwait", T2),
        (6 * MS, 6 * MS + 300 * US, T1, BlockedReason.PREEMPTED, "", None),
        # T2 left at 6.3 ms, closed at the end
        (6 * MS + 300 * US, 11 * MS, T2, BlockedReason.OTHER, "", None),
        (7 * MS, 8 * MS, T1, BlockedReason.PIPE_IPC, "mach_msg_trap", None),
        (9 * MS, 9 * MS + 40 * US, T1, BlockedReason.PAGE_FAULT, "vm_fault", None),
        (10 * MS, 11 * MS, T1, BlockedReason.OTHER, "syscall 3", None),
    ])
    assert of(events, Wakeup) == [Wakeup(4 * MS, 1, PID, T2, PID, T1)]


def test_dispatch_state_settles_runnable_against_blocked() -> None:
    t = threads()
    t.syscall(1 * MS, T1, 334)
    t.switch(1 * MS, T1, KT, reason=0x1, old_state=0x1)  # preempt bit, but the thread was waiting
    t.switch(2 * MS, KT, T1)
    t.switch(3 * MS, T1, KT, reason=0, old_state=0x4)  # no reason bit, but still runnable
    t.switch(4 * MS, KT, T1)
    events, _ = decode(t)
    assert [(s.reason, s.wait_site) for s in of(events, OffCpuInterval)] == [
        (BlockedReason.SLEEP, "__semwait_signal"), (BlockedReason.PREEMPTED, "")]


def test_a_switch_sample_gives_the_span_its_stack_and_is_not_on_cpu_time() -> None:
    t = threads()
    t.switch(1 * MS, T1, KT)
    t.switch(2 * MS, KT, T1)
    t.sample(2 * MS, PID, T1, kernel=[K + 1, K + 2], user=[U + 1, U + 2], at_switch=True,
             user_later_ns=2 * MS + 20 * US)
    t.switch(3 * MS, T1, KT)
    t.switch(4 * MS, KT, T1)  # no switch sample this time: the span has no stack
    events, decoder = decode(t)
    assert [(s.start, s.kernel_ips, s.user_ips) for s in of(events, OffCpuInterval)] == [
        (1 * MS, (K + 1, K + 2), (U + 1, U + 2)), (3 * MS, (), ())]
    assert of(events, Sample) == [] and decoder.sample_count == 0


def test_kernel_threads_are_not_followed_and_their_wakeups_of_each_other_are_dropped() -> None:
    t = threads()
    t.thread(0x78, 0, "kernel_task")
    t.switch(1 * MS, KT, 0x78)
    t.make_runnable(2 * MS, 0x78, KT)
    t.switch(3 * MS, 0x78, KT)
    events, _ = decode(t)
    assert of(events, OffCpuInterval) == [] and of(events, Wakeup) == []


# -- threads, images, lost events ----------------------------------------------------------------------


def test_thread_lifecycle_and_names() -> None:
    t = threads()
    t.new_thread(1 * MS, T1, 0x5003, PID)
    t.event(1 * MS, 0x07010004, *pack_words("app", 4), tid=T1)  # TRACE_STRING_NEWTHREAD
    t.thread_name(2 * MS, 0x5003, "a-rather-long-worker-name-that-spans-two-events")
    t.event(3 * MS, TRACE_DATA_EXEC, PID, tid=T2)
    t.event(3 * MS, TRACE_STRING_EXEC, *pack_words("newprog", 4), tid=T2)
    t.switch(4 * MS, 0x5003, KT)
    t.event(5 * MS, TRACE_DATA_THREAD_TERMINATE, 0x5003, tid=KT)
    t.event(5 * MS, TRACE_STRING_EXEC | 0, 0, tid=0x9999)  # a thread of no known process: nothing
    events, _ = decode(t)
    assert of(events, ThreadStart) == [ThreadStart(1 * MS, PID, 0x5003, PID, T1)]
    assert of(events, ThreadName)[-3:] == [
        ThreadName(1 * MS, PID, 0x5003, "app", process=True),
        ThreadName(2 * MS, PID, 0x5003, "a-rather-long-worker-name-that-spans-two-events"),
        ThreadName(3 * MS, PID, T2, "newprog", is_exec=True, process=True)]
    assert ThreadName(0, PID, T1, "app", process=True) in events
    assert of(events, ThreadExit) == [ThreadExit(5 * MS, PID, 0x5003)]
    assert [(s.tid, s.end) for s in of(events, OffCpuInterval)] == []  # an ended thread's span is dropped


def test_images_carry_the_uuid_the_path_and_extents_that_never_overlap() -> None:
    t = threads()
    uuid_a, uuid_b, uuid_c = bytes(range(16)), bytes(range(16, 32)), bytes(range(32, 48))
    t.dyld_image(1 * MS, T1, "/Applications/App.app/Contents/MacOS/App", uuid_a, 0x1_0200_0000)
    t.dyld_image(2 * MS, T1, "/usr/lib/libb.dylib", uuid_b, 0x1_0200_8000)
    t.dyld_image(3 * MS, T2, "/usr/lib/libc_below.dylib", uuid_c, 0x1_0100_0000, string_id=0x70AC000000000002)
    t.event(4 * MS, 0x1F050000, 1, 2, 0x1_0300_0000, tid=T1)  # MAP_A + MAP_B with no path string (old dyld)
    t.event(4 * MS, 0x1F050004, 0, 0, tid=T1)
    t.event(5 * MS, 0x1F050000, 1, 2, 0x1_0400_0000, tid=0x4444)  # a thread of no known process
    t.event(5 * MS, 0x1F050004, 0, 0, tid=0x4444)
    t.event(6 * MS, DYLD_SHARED_CACHE_A, int.from_bytes(uuid_b[:8], "little"),
            int.from_bytes(uuid_b[8:], "little"), 0x1_8000_0000, tid=T1)
    events, decoder = decode(t)
    loads = [(e.time, e.start, e.end, e.path, e.build_id) for e in of(events, ImageLoad)]
    old_dyld_uuid = (1).to_bytes(8, "little") + (2).to_bytes(8, "little")
    span = 1 << 30
    assert loads == [
        (1 * MS, 0x1_0200_0000, 0x1_0200_0000 + span, "/Applications/App.app/Contents/MacOS/App", uuid_a),
        (2 * MS, 0x1_0200_0000, 0x1_0200_8000, "/Applications/App.app/Contents/MacOS/App", uuid_a),
        (2 * MS, 0x1_0200_8000, 0x1_0200_8000 + span, "/usr/lib/libb.dylib", uuid_b),
        (3 * MS, 0x1_0100_0000, 0x1_0200_0000, "/usr/lib/libc_below.dylib", uuid_c),
        (4 * MS, 0x1_0200_8000, 0x1_0300_0000, "/usr/lib/libb.dylib", uuid_b),
        (4 * MS, 0x1_0300_0000, 0x1_0300_0000 + span,
         f"[{str(uuid.UUID(bytes=old_dyld_uuid)).upper()}]", old_dyld_uuid),
    ]
    assert all(e.kind is ImageKind.MACHO and e.file_offset == 0 and e.pid == PID
               for e in of(events, ImageLoad))
    assert decoder.skipped() == {"image loads by threads of unknown processes": 1}
    assert decoder.images.shared_caches == {PID: ("10111213-1415-1617-1819-1a1b1c1d1e1f", 0x1_8000_0000)}


def test_exec_forgets_the_images_of_the_process() -> None:
    t = threads()
    t.dyld_image(1 * MS, T1, "/bin/old", bytes(16), 0x1_0000_0000)
    t.event(2 * MS, TRACE_DATA_EXEC, PID, tid=T1)
    t.event(2 * MS, TRACE_STRING_EXEC, *pack_words("new", 4), tid=T1)
    t.dyld_image(3 * MS, T1, "/bin/new", bytes(range(16)), 0x1_0000_4000)
    events, _ = decode(t)
    assert [(e.path, e.start, e.end) for e in of(events, ImageLoad)] == [
        ("/bin/old", 0x1_0000_0000, 0x1_0000_0000 + (1 << 30)),
        ("/bin/new", 0x1_0000_4000, 0x1_0000_4000 + (1 << 30))]  # no re-announcement of /bin/old


def test_lost_events_are_noticed() -> None:
    t = threads()
    t.event(1 * MS, TRACE_LOST_EVENTS, tid=KT, cpu=2)
    events, decoder = decode(t)
    assert of(events, LostNotice)[0].cpu == 2 and decoder.lost_events == 1


@pytest.mark.parametrize("garbage", [b"", b"\x01" * 63, b"\xff" * 64 * 3])
def test_garbage_never_raises(garbage: bytes) -> None:
    decoder = KdebugDecoder(Timebase(125, 3), MS)
    decoder.feed(records(garbage))
    decoder.finish()
