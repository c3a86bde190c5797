"""Profile: per-stack totals, display frames, inline expansion, filters, metadata."""

from __future__ import annotations

from pathlib import Path

from stax.analysis.profile import NO_STACK_NAME, ROOT, Profile
from stax.recording.reader import Recording, SampleFilter
from tests.render.synthetic_recording import write_recording


def names(profile: Profile, node: int) -> list[str]:
    return [profile.frames[f].label for f in profile.path(node)]


def test_stacks_and_totals(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "p.stax", [("main;driver;hot_a", 750), ("main;driver;hot_b", 250)])
    profile = Profile.from_path(rec)
    assert profile.sample_count == 1000
    assert profile.recorded_samples == 1000
    assert profile.total_weight == 1000 * 1_000_000
    leaves = {tuple(names(profile, n)): c for n, c in zip(profile.leaf_nodes, profile.leaf_counts,
                                                          strict=True)}
    assert leaves == {("main", "driver", "hot_a"): 750, ("main", "driver", "hot_b"): 250}
    # the prefix is shared: main and driver are one node each
    assert profile.node_count == 4
    assert all(p < n for n, p in enumerate(profile.node_parents))
    assert profile.duration_ns == 999 * 1_000_000
    assert profile.threads[0].name == "prog"


def test_addresses_of_one_function_merge(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "m.stax", [("main;a1", 3), ("main;a2", 4)],
                          rename={"a1": "same", "a2": "same"})
    profile = Profile.from_path(rec)
    assert profile.leaf_counts.tolist() == [7]
    assert names(profile, profile.leaf_nodes[0]) == ["main", "same"]


def test_inline_frames_expand_above_their_function(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "i.stax", [("main;helper", 5)],
                          inlines={"helper": ("innermost", "middle")})
    profile = Profile.from_path(rec)
    (leaf,) = profile.leaf_nodes
    assert names(profile, leaf) == ["main", "helper", "middle (inlined)", "innermost (inlined)"]
    kinds = [(profile.frames[f].name, profile.frames[f].is_inline) for f in profile.path(leaf)]
    assert kinds == [("main", False), ("helper", False), ("middle", True), ("innermost", True)]


def test_kernel_and_unresolved_frames(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "k.stax", [("main;mystery;sys_read", 2)],
                          kernel={"sys_read"}, unnamed={"mystery"})
    profile = Profile.from_path(rec)
    main, mystery, sys_read = (profile.frames[f] for f in profile.path(profile.leaf_nodes[0]))
    assert sys_read.is_kernel and sys_read.image == "[kernel.kallsyms]"
    assert not mystery.resolved and mystery.name.startswith("prog+0x")
    assert main.resolved and not main.is_kernel


def test_empty_stacks_count_under_a_placeholder(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "e.stax", [("", 3), ("main", 1)])
    profile = Profile.from_path(rec)
    assert profile.sample_count == 4
    empty = [n for n in profile.leaf_nodes if profile.node_parents[n] == ROOT
             and profile.frame_of(n).name == NO_STACK_NAME]
    assert len(empty) == 1


def test_filters(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "t.stax", [("main;a", 30, 101), ("main;b", 10, 102)],
                          threads={100: "proc", 101: "alpha", 102: "beta"})
    recording = Recording.open(rec)
    try:
        assert Profile.from_recording(recording, SampleFilter(tids=frozenset({101}))).sample_count == 30
        assert Profile.from_recording(recording, SampleFilter(comms=frozenset({"beta"}))).sample_count == 10
        assert Profile.from_recording(recording, SampleFilter(comms=frozenset({"proc"}))).sample_count == 40
        assert Profile.from_recording(recording, SampleFilter(pids=frozenset({5}))).sample_count == 0
        only_b = Profile.from_recording(recording, SampleFilter(tids=frozenset({102})))
        assert only_b.duration_ns == 9 * 1_000_000
        assert only_b.recorded_samples == 40
    finally:
        recording.close()


def test_capability_notes(tmp_path: Path) -> None:
    import sqlite3

    rec = write_recording(tmp_path / "c.stax", [("main", 1)])
    db = sqlite3.connect(rec)
    with db:
        db.execute("INSERT INTO capabilities VALUES ('off-CPU intervals', 'unavailable', 'no tracefs',"
                   " '')")
        db.execute("INSERT INTO capabilities VALUES ('on-CPU sampling', 'available', '', '')")
        db.execute("""INSERT INTO meta VALUES ('notes', '["Kernel frames are hidden."]')""")
    db.close()
    # the backend's own sentences win; unrelated capability rows are left to `stax doctor`
    assert Profile.from_path(rec).capability_notes() == ["Kernel frames are hidden."]
    db = sqlite3.connect(rec)
    with db:
        db.execute("DELETE FROM meta WHERE key='notes'")
        db.execute("INSERT INTO capabilities VALUES ('kernel call stacks', 'unavailable',"
                   " 'perf_event_paranoid is 2', 'sysctl')")
    db.close()
    assert Profile.from_path(rec).capability_notes() == [
        "kernel call stacks: perf_event_paranoid is 2 (sysctl)"]
