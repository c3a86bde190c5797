"""A time range in SampleFilter: samples taken in [start, end), off-CPU spans overlapping it
with their time clipped to it, counted by every reader query the views use (the web UI's
timeline selection filters every view through it)."""

from __future__ import annotations

from pathlib import Path

from stax.analysis.off_cpu_profile import OffCpuProfile
from stax.analysis.profile import Profile
from stax.blocked_reason import BlockedReason
from stax.events import ImageLoad, OffCpuInterval, Sample, ThreadName
from stax.recording.reader import Recording, SampleFilter
from stax.recording.writer import RecordingBuilder

PID, TID = 100, 100
MS = 1_000_000
IMAGE = 0x400000


def write(path: Path) -> Path:
    """One sample per ms from 0 to 99 ms; a 30 ms sleep from 10 to 40 ms; a 20 ms preemption at 60 ms."""
    builder = RecordingBuilder(path, plugins=None)
    builder.consume([ImageLoad(0, PID, IMAGE, IMAGE + 0x1000, 0, "/usr/bin/prog"),
                     ThreadName(0, PID, TID, "prog")])
    builder.consume([Sample(t * MS, PID, TID, 0, MS, (), (IMAGE + 0x10, IMAGE + 0x20)) for t in range(100)])
    blocked_at = (IMAGE + 0x30,)
    builder.consume([
        OffCpuInterval(10 * MS, 40 * MS, PID, TID, 0, BlockedReason.SLEEP, "do_nanosleep", (), blocked_at),
        OffCpuInterval(60 * MS, 80 * MS, PID, TID, 0, BlockedReason.PREEMPTED, "", (), blocked_at),
    ])
    builder.finish(symbolicate=False)
    return path


def test_samples_in_the_range_only(tmp_path: Path) -> None:
    rec = Recording.open(write(tmp_path / "r.stax"))
    try:
        window = SampleFilter(start=20 * MS, end=50 * MS)
        assert sum(c for *_, c, _ in rec.thread_totals(window)) == 30  # 20..49 ms
        assert sum(c for _, c, _ in rec.stack_totals(window)) == 30
        assert sum(c for *_, c, _ in rec.thread_stack_totals(SampleFilter(start=90 * MS))) == 10
        assert sum(c for *_, c, _ in rec.thread_stack_totals(SampleFilter(end=5 * MS))) == 5
        assert rec.time_range(window) == (20 * MS, 49 * MS)
        assert sum(c for _, c, _ in rec.leaf_frame_totals(window)) == 30
        assert sum(row[3] for row in rec.thread_sample_slices(window, 20 * MS, 10 * MS)) == 30
    finally:
        rec.close()


def test_spans_overlapping_the_range_clipped_to_it(tmp_path: Path) -> None:
    rec = Recording.open(write(tmp_path / "r.stax"))
    try:
        window = SampleFilter(start=30 * MS, end=70 * MS)
        by_reason = {reason: ns for _, _, reason, _, ns in rec.thread_off_cpu(window)}
        assert by_reason == {"sleep": 10 * MS, "preempted": 10 * MS}  # 30..40 and 60..70
        (row,) = rec.off_cpu_stack_totals(window)
        assert row[1:] == ("sleep", 1, 10 * MS)
        assert rec.off_cpu_time_range(window) == (30 * MS, 70 * MS)
        assert [s[:2] for s in rec.off_cpu_spans(window)] == [(10 * MS, 40 * MS), (60 * MS, 80 * MS)]
        assert rec.thread_off_cpu(SampleFilter(start=45 * MS, end=55 * MS)) == []
        longest = rec.longest_off_cpu_spans(SampleFilter(), 1)
        assert [(s, e, reason, n) for s, e, _, _, reason, n in longest] == [(10 * MS, 40 * MS, "sleep", 2)]
    finally:
        rec.close()


def test_profiles_of_a_time_range(tmp_path: Path) -> None:
    path = write(tmp_path / "r.stax")
    assert Profile.from_path(path, SampleFilter(start=0, end=25 * MS)).sample_count == 25
    assert Profile.from_path(path).sample_count == 100
    off = OffCpuProfile.from_path(path, SampleFilter(start=35 * MS, end=65 * MS))
    assert off.blocked_ns == 5 * MS and off.preempted_ns == 5 * MS
    assert SampleFilter(start=0).is_empty() is False and SampleFilter().is_empty() is True
