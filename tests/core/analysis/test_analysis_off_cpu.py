"""Off-CPU analyses: the blocked-time profile, function and node totals by reason,
per-thread breakdown and wakeup chains, with figures from synthetic recordings."""

from __future__ import annotations

from pathlib import Path

import pytest

from stax.analysis.call_tree import TREE_ROOT, call_tree, inverted_call_tree
from stax.analysis.off_cpu_profile import OffCpuProfile
from stax.analysis.off_cpu_totals import dominant_reason, function_blocked_totals, node_reason_weights
from stax.analysis.thread_breakdown import thread_breakdown
from stax.analysis.wakeup_chains import wakeup_chains
from stax.blocked_reason import BlockedReason
from stax.recording.reader import Recording, SampleFilter
from tests.backend_linux.off_cpu.synthetic_off_cpu import (
    MS,
    NAP_PID,
    READER,
    WRITER,
    OffCpuRecording,
    write_nap_recording,
    write_pingpong_recording,
)

SECOND = 1_000_000_000


@pytest.fixture(scope="module")
def nap_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_nap_recording(tmp_path_factory.mktemp("nap") / "nap.stax")


@pytest.fixture(scope="module")
def pingpong_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pingpong_recording(tmp_path_factory.mktemp("pingpong") / "pingpong.stax")


def by_name(rows: list) -> dict:
    return {row.frame.name: row for row in rows}


def test_nap_profile_totals(nap_rec: Path) -> None:
    profile = OffCpuProfile.from_path(nap_rec)
    assert profile.blocked_ns == SECOND and profile.blocked_spans == 10
    assert [(r.reason, r.spans, r.ns) for r in profile.reasons] == [("sleep", 10, SECOND)]
    assert (profile.preempted_spans, profile.preempted_ns) == (3, 6 * MS)
    assert profile.recorded_spans == 13 and profile.recorded_samples == 50
    assert profile.leaf_reasons == ["sleep"]
    # A Profile like any other: counts are spans, weights are ns.
    assert profile.sample_count == 10 and profile.total_weight == SECOND


def test_function_totals_are_inclusive_blocked_time_without_preemptions(nap_rec: Path) -> None:
    rows = function_blocked_totals(OffCpuProfile.from_path(nap_rec))
    nap = by_name(rows)["nap"]
    assert (nap.ns, nap.spans, nap.percent, nap.reasons) == (SECOND, 10, 100.0, (("sleep", SECOND),))
    assert "compute" not in by_name(rows)  # its only off-CPU time was runnable wait
    # Ties: user before kernel, each in call order.
    assert [r.frame.name for r in rows[:4]] == ["_start", "main", "nap", "clock_nanosleep"]
    assert rows[4].frame.is_kernel


def test_recursion_counts_once_and_reasons_split(tmp_path: Path) -> None:
    rec = OffCpuRecording(tmp_path / "rec.stax", 10, {10: "t"})
    rec.span("main;walk;walk;walk;futex_wait_queue;schedule", 10, 30 * MS, BlockedReason.LOCK)
    rec.span("main;walk;do_nanosleep;schedule", 10, 10 * MS, BlockedReason.SLEEP)
    rows = by_name(function_blocked_totals(OffCpuProfile.from_path(rec.write())))
    assert rows["walk"].ns == 40 * MS and rows["walk"].spans == 2
    assert rows["walk"].reasons == (("lock", 30 * MS), ("sleep", 10 * MS))
    assert rows["walk"].percent == pytest.approx(100.0)
    assert rows["do_nanosleep"].percent == pytest.approx(25.0)


def test_node_reason_weights_root_first_and_inverted(pingpong_rec: Path) -> None:
    profile = OffCpuProfile.from_path(pingpong_rec)
    for tree in (call_tree(profile), inverted_call_tree(profile)):
        weights = node_reason_weights(tree, profile)
        assert weights[TREE_ROOT] == {"pipe-ipc": 1000 * MS, "lock": 20 * MS}
        assert dominant_reason(weights[TREE_ROOT]) == "pipe-ipc"
        names = {tree.frame_of(n).name: weights[n] for n in range(1, len(tree))
                 if tree.frame_of(n).name in ("writer_loop", "reader_loop")}
        assert names == {"writer_loop": {"lock": 20 * MS}, "reader_loop": {"pipe-ipc": 1000 * MS}}
        # every node's split adds up to its width
        for node in range(len(tree)):
            assert sum((weights[node] or {}).values()) == tree.total_weight[node]


def test_filter_selects_threads(pingpong_rec: Path) -> None:
    profile = OffCpuProfile.from_path(pingpong_rec, SampleFilter(tids=frozenset({WRITER})))
    assert profile.blocked_ns == 20 * MS and [r.reason for r in profile.reasons] == ["lock"]
    assert (profile.preempted_spans, profile.preempted_ns) == (1, 3 * MS)


def test_thread_breakdown(pingpong_rec: Path) -> None:
    rec = Recording.open(pingpong_rec)
    try:
        rows = thread_breakdown(rec)
    finally:
        rec.close()
    assert [r.tid for r in rows] == [READER, WRITER]  # by on + blocked + runnable time
    reader, writer = rows
    assert reader.on_cpu_ns == 30 * MS and reader.blocked == (("pipe-ipc", 1000 * MS),)
    assert reader.runnable_ns == 0 and reader.wakeups_received == 196
    assert [(w.tid, w.name, w.count) for w in reader.wakers] == [(WRITER, "writer", 196)]
    assert reader.ipc == pytest.approx(1.5)
    assert writer.blocked == (("lock", 20 * MS),) and writer.blocked_spans == 20
    assert (writer.runnable_spans, writer.runnable_ns) == (1, 3 * MS)
    assert writer.total_ns == 70 * MS + 20 * MS + 3 * MS
    assert writer.ipc == pytest.approx(0.5)
    assert dict(writer.counters) == {"cycles": 4_000_000, "instructions": 2_000_000}


def test_thread_breakdown_keeps_runnable_wait_out_of_blocked(nap_rec: Path) -> None:
    rec = Recording.open(nap_rec)
    try:
        (row,) = thread_breakdown(rec)
    finally:
        rec.close()
    assert row.tid == NAP_PID and row.blocked_ns == SECOND and row.runnable_ns == 6 * MS
    assert [(w.tid, w.name, w.count, w.is_interrupt) for w in row.wakers] == [
        (None, "[timer interrupt]", 10, True)]
    assert row.ipc is None and row.counters == ()


def test_wakeup_chains(pingpong_rec: Path) -> None:
    rec = Recording.open(pingpong_rec)
    try:
        chains = wakeup_chains(rec)
        only_writer = wakeup_chains(rec, SampleFilter(tids=frozenset({WRITER})))
    finally:
        rec.close()
    assert chains.ns == 1020 * MS and chains.spans == 220
    pipe, lock = chains.chains
    assert (pipe.reason, pipe.ns, pipe.spans) == ("pipe-ipc", 1000 * MS, 200)
    assert [f.name for f in pipe.stack][-3:] == ["pipe_read", "schedule", "__schedule"]
    (waker,) = pipe.wakers
    assert (waker.tid, waker.name, waker.spans, waker.ns) == (WRITER, "writer", 196, 980 * MS)
    assert "writer_loop" in [f.name for f in waker.stack]
    assert waker.ns / pipe.ns >= 0.95
    assert (pipe.unwoken_spans, pipe.unwoken_ns) == (4, 20 * MS)
    assert [(t.tid, t.spans) for t in pipe.threads] == [(READER, 200)]
    assert lock.wakers[0].tid == READER and lock.unwoken_spans == 0
    assert chains.woken_ns == 1000 * MS and chains.chain_count == 2
    assert [c.reason for c in only_writer.chains] == ["lock"]


def test_wakeup_chains_limits_build_only_what_is_shown(tmp_path: Path) -> None:
    rec = OffCpuRecording(tmp_path / "many.stax", 10, {10: "t", 11: "a", 12: "b", 13: "c"})
    for waker, spans in ((11, 5), (12, 3), (13, 2)):
        for _ in range(spans):
            rec.span("main;wait;futex_wait_queue;schedule", 10, 10 * MS, BlockedReason.LOCK,
                     waker=(waker, f"main;unlock_{waker};futex_wake;try_to_wake_up"))
    rec.span("main;other;do_nanosleep;schedule", 10, 1 * MS, BlockedReason.SLEEP)
    recording = Recording.open(rec.write())
    try:
        chains = wakeup_chains(recording, limit=1, max_wakers=1)
    finally:
        recording.close()
    assert chains.chain_count == 2 and len(chains.chains) == 1 and chains.ns == 101 * MS
    (chain,) = chains.chains
    assert [w.tid for w in chain.wakers] == [11] and chain.waker_count == 3
    assert (chain.other_wakers_spans, chain.other_wakers_ns) == (5, 50 * MS)
