"""Function totals (self, total once per sample under recursion) and thread totals."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from stax.analysis.function_totals import function_totals
from stax.analysis.profile import Profile
from stax.analysis.thread_totals import thread_totals
from tests.render.synthetic_recording import write_recording


def test_hot_functions(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "h.stax", [("main;driver;hot_a", 750), ("main;driver;hot_b", 250)])
    rows = {r.frame.name: r for r in function_totals(Profile.from_path(rec))}
    assert [r.frame.name for r in function_totals(Profile.from_path(rec))][:2] == ["hot_a", "hot_b"]
    assert rows["hot_a"].self_percent == 75.0 and rows["hot_a"].self_count == 750
    assert rows["hot_b"].self_percent == 25.0
    assert rows["driver"].self_count == 0 and rows["driver"].total_percent == 100.0
    assert rows["main"].total_count == 1000
    assert rows["hot_a"].self_weight == 750 * 1_000_000


def test_recursion_counts_a_sample_once(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "r.stax", [
        ("main;fib;fib;fib", 60), ("main;fib;leaf;fib", 30), ("main;leaf", 10),
    ])
    rows = {r.frame.name: r for r in function_totals(Profile.from_path(rec))}
    assert rows["fib"].total_count == 90 and rows["fib"].self_count == 90
    assert rows["leaf"].total_count == 40 and rows["leaf"].self_count == 10
    assert rows["main"].total_percent == 100.0
    assert all(r.total_percent <= 100.0 for r in rows.values())


def test_threads(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "t.stax", [("main;a", 30, 101), ("main;b", 10, 102), ("x", 5, 101)],
                          threads={100: "proc", 101: "alpha", 102: "beta"})
    rows = thread_totals(Profile.from_path(rec))
    assert [(r.tid, r.name, r.process_name, r.count) for r in rows] == [
        (101, "alpha", "proc", 35), (102, "beta", "proc", 10)]
    assert rows[0].percent == pytest.approx(35 / 45 * 100)


def test_threads_by_blocked_time(tmp_path: Path) -> None:
    """``by_weight``: an off-CPU profile's threads ranked by blocked ns (one long sleep beats three
    short ones), the share of the ns: what ``stax top --off-cpu`` lists, from this one function."""
    from stax.analysis.off_cpu_profile import OffCpuProfile
    from stax.blocked_reason import BlockedReason
    from stax.contracts import RenderOptions
    from stax.events import OffCpuInterval, ThreadName
    from stax.recording.writer import RecordingBuilder
    from stax_render.top_off_cpu import OffCpuTopRenderer

    path = tmp_path / "off.stax"
    ms = 1_000_000
    events: list[object] = [ThreadName(0, 100, 101, "long"), ThreadName(0, 100, 102, "short")]
    events.append(OffCpuInterval(ms, 61 * ms, 100, 101, 0, BlockedReason.SLEEP))
    events += [OffCpuInterval(i * 10 * ms, i * 10 * ms + 5 * ms, 100, 102, 0, BlockedReason.SLEEP)
               for i in range(1, 5)]
    builder = RecordingBuilder(path, plugins=None)
    builder.consume(events)
    builder.finish(symbolicate=False)
    profile = OffCpuProfile.from_path(path)
    rows = thread_totals(profile, by_weight=True)
    assert [(r.tid, r.name, r.count, r.weight) for r in rows] == [(101, "long", 1, 60 * ms),
                                                                   (102, "short", 4, 20 * ms)]
    assert rows[0].percent == pytest.approx(75.0)
    assert [r.tid for r in thread_totals(profile)] == [102, 101]  # by spans
    out = io.StringIO()
    OffCpuTopRenderer().render(profile, RenderOptions(format="json"), out)
    listed = json.loads(out.getvalue())["threads"]
    assert [(t["tid"], t["spans"], t["blocked_ns"], t["percent"]) for t in listed] == [
        (r.tid, r.count, r.weight, round(r.percent, 4)) for r in rows]
