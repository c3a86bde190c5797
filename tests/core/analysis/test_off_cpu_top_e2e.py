"""``stax top --off-cpu`` on real recordings: the kernel frames every blocked stack shares are
named, not ranked; frames that are not code are dropped from the stacks and counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from stax.analysis.profile import is_non_code
from stax.recording.reader import Recording
from tests.core.analysis.conftest import needs_root, record, stax, stax_json

pytestmark = [needs_root, pytest.mark.root]


@pytest.fixture(scope="module")
def sleep_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """coreutils `sleep 0.2`: libc's nanosleep keeps no frame pointer, so the walk can read the
    timespec's 200,000,000 ns as a return address (``[unknown]+0xbebc200``)."""
    return record(Path("/bin/sleep"), tmp_path_factory.mktemp("sleep") / "sleep.stax", "0.2")


def _non_code_on_blocked_stacks(rec: Path) -> set[int]:
    """Raw frames on the recording's off-CPU stacks that no mapping held, read straight from it."""
    recording = Recording.open(rec)
    try:
        labels = recording.frame_labels()
        parents, frames = recording.stack_arrays()
        found: set[int] = set()
        for _, _, stack, reason, _, _ in recording.thread_off_cpu_stack_totals(include_preempted=False):
            assert reason != "preempted"
            while stack != -1:
                if is_non_code(labels[frames[stack]]):
                    found.add(frames[stack])
                stack = parents[stack]
        return found
    finally:
        recording.close()


def test_shared_kernel_frames_do_not_take_the_first_rows(pingpong_rec: Path) -> None:
    view = stax_json("top", str(pingpong_rec), "--off-cpu", "-n", "-1")
    shared = [f["function"] for f in view["not_ranked"]]
    assert "schedule" in shared and all(f["is_kernel"] for f in view["not_ranked"])
    ranked = [f["function"] for f in view["functions"]]
    assert not set(shared) & set(ranked)
    assert view["functions"][0]["percent"] < 100.0  # the first row is where the stacks differ
    text = stax("top", str(pingpong_rec), "--off-cpu").stdout
    assert "on every blocked stack (" in text and "--kernel-common ranks them" in text
    everything = stax_json("top", str(pingpong_rec), "--off-cpu", "-n", "-1", "--kernel-common")
    assert everything["not_ranked"] == []
    top_rows = [f["function"] for f in everything["functions"][:len(shared)]]
    assert sorted(top_rows) == sorted(shared)
    assert all(f["percent"] == 100.0 for f in everything["functions"][:len(shared)])


def test_kernel_common_needs_off_cpu(pingpong_rec: Path) -> None:
    proc = stax("top", str(pingpong_rec), "--kernel-common", check=False)
    assert proc.returncode == 2  # a usage error
    assert proc.stderr == ("stax: --kernel-common ranks the kernel frames all blocked stacks share;"
                           " use it with --off-cpu.\n")


def test_frames_that_are_not_code_are_dropped_and_counted(sleep_rec: Path) -> None:
    expected = _non_code_on_blocked_stacks(sleep_rec)
    view = stax_json("top", str(sleep_rec), "--off-cpu", "-n", "-1")
    assert view["non_code_frames"]["frames"] == len(expected)
    assert not any(f["function"].startswith("[unknown]") for f in view["functions"])
    folded = stax("collapse", str(sleep_rec), "--off-cpu").stdout
    assert "[unknown]" not in folded
    assert sum(int(line.rsplit(" ", 1)[1]) for line in folded.splitlines()) == view["blocked_ns"]
    if expected:  # this host's libc reads the timespec as a return address
        text = stax("top", str(sleep_rec), "--off-cpu").stdout
        assert f"# dropped: {len(expected)} frame" in text and "that are not code" in text
