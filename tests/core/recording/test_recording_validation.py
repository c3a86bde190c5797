"""The reader's checks (stax.recording.validation): the exact sentence for each kind of damage.

The fuzz test (tests/security/test_damaged_recordings.py) runs every view on hundreds of
damaged copies; these pin down the sentences and the defences one at a time.
"""

from __future__ import annotations

import shutil
import sqlite3
from array import array
from pathlib import Path

import pytest

from stax.analysis.profile import DisplayTreeBuilder, Profile
from stax.analysis.wakeup_context import RawStackContexts
from stax.errors import RecordingFormatError
from stax.recording.reader import FrameLabel, Recording
from tests.backend_linux.off_cpu.synthetic_off_cpu import write_pingpong_recording
from tests.core.recording.event_block_edits import edit_event_rows
from tests.core.recording.sample_block_edits import edit_block
from tests.render.synthetic_recording import write_recording


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("originals")
    return {
        "on-cpu": write_recording(root / "on.stax", [("main;a;b;c", 30), ("main;d", 10)]),
        "off-cpu": write_pingpong_recording(root / "off.stax"),
    }


def damaged_copy(originals: dict[str, Path], tmp_path: Path, base: str, *sql: str) -> Path:
    path = tmp_path / "rec.stax"
    shutil.copyfile(originals[base], path)
    if any("off_cpu_spans" in statement or "wakeups" in statement for statement in sql):
        assert edit_event_rows(path, *sql)  # rows inside blocks since schema 3
        return path
    db = sqlite3.connect(path)
    with db:
        for statement in sql:
            db.execute(statement)
    db.close()
    return path


def refusal(path: Path, read=lambda rec: Profile.from_recording(rec)) -> str:
    with pytest.raises(RecordingFormatError) as caught:
        rec = Recording.open(path)
        try:
            read(rec)
        finally:
            rec.close()
    return str(caught.value)


def test_a_stack_cycle_is_named(originals: dict[str, Path], tmp_path: Path) -> None:
    # stacks: 0 <- 1 <- 2 <- 3 (main;a;b;c) and 0 <- 4 (main;d); 1's parent made 3: 1 -> 3 -> 2 -> 1
    path = damaged_copy(originals, tmp_path, "on-cpu", "UPDATE stacks SET parent_id = 3 WHERE id = 1")
    assert refusal(path) == f"{path} is damaged: stack 1 refers to itself through its parents;" \
                            " record it again."


def test_a_parent_written_after_its_child_is_refused_even_without_a_loop(
        originals: dict[str, Path], tmp_path: Path) -> None:
    path = damaged_copy(originals, tmp_path, "on-cpu", "UPDATE stacks SET parent_id = 4 WHERE id = 1")
    assert "stack 1 has parent 4, which was written after it" in refusal(path)


def test_a_missing_stack_is_named(originals: dict[str, Path], tmp_path: Path) -> None:
    path = damaged_copy(originals, tmp_path, "on-cpu", "DELETE FROM stacks WHERE id = 1")
    assert refusal(path) == f"{path} is damaged: stack 1 is missing (ids are numbered from 0" \
                            " without gaps); record it again."


def test_a_span_that_ends_before_it_starts(originals: dict[str, Path], tmp_path: Path) -> None:
    path = damaged_copy(originals, tmp_path, "off-cpu",
                        "UPDATE off_cpu_spans SET end = start - 5 WHERE rowid = 7")
    message = refusal(path, lambda rec: rec.thread_off_cpu())
    assert message.startswith(f"{path} is damaged: off-CPU span 6 of block 0 ends before it starts (")
    # the on-CPU view reads no span: it still shows the samples
    assert Profile.from_path(path).sample_count == 100


def test_sample_damage_in_a_killed_recording_is_found_by_the_views_query(
        originals: dict[str, Path], tmp_path: Path) -> None:
    """No totals (the recorder was killed): the views decode the blocks and check them."""
    path = damaged_copy(originals, tmp_path, "on-cpu", "DELETE FROM sample_totals",
                        "DELETE FROM meta WHERE key = 'sample_totals'")
    edit_block(path, 0, lambda cols: cols.weight.__setitem__(9, -5))
    assert refusal(path) == (f"{path} is damaged: sample block 0 has a negative weight (-5 ns);"
                             " record it again.")


def test_a_stack_id_no_stack_has(originals: dict[str, Path], tmp_path: Path) -> None:
    path = damaged_copy(originals, tmp_path, "off-cpu",
                        "UPDATE off_cpu_spans SET stack_id = 4000 WHERE rowid = 3")
    assert refusal(path, lambda rec: rec.off_cpu_stack_totals()) == (
        f"{path} is damaged: off-CPU span 3 refers to stack 4000, which does not exist; record it again.")


@pytest.mark.parametrize(("sql", "what"), [
    ("UPDATE images SET kind = 'bogus'", "image 0 has kind 'bogus', which is not one of elf,"),
    ("UPDATE meta SET value = '{' WHERE key = 'sample_count'", "metadata 'sample_count' is not valid JSON"),
    ("UPDATE threads SET name = CAST(x'41ff' AS TEXT)", "the name of thread 100 is not UTF-8 text"),
    ("UPDATE sample_totals SET weight = -1 WHERE rowid = 1", "sample total 1 has a negative weight"),
    ("UPDATE frames SET image_id = 9 WHERE id = 0", "frame 0 refers to image 9, which does not exist"),
    ("DROP TABLE lost", "its table 'lost' is missing"),
])
def test_damage_found_on_open(originals: dict[str, Path], tmp_path: Path, sql: str, what: str) -> None:
    path = damaged_copy(originals, tmp_path, "on-cpu", sql)
    with pytest.raises(RecordingFormatError, match="record it again") as caught:
        Recording.open(path)
    assert str(caught.value).startswith(f"{path} is damaged: {what}"), caught.value


def test_an_unknown_blocked_reason(originals: dict[str, Path], tmp_path: Path) -> None:
    path = damaged_copy(originals, tmp_path, "off-cpu",
                        "UPDATE off_cpu_spans SET reason = 'snoozing' WHERE rowid = 2")
    assert "has blocked reason 'snoozing', which is not one of sleep, lock" in refusal(
        path, lambda rec: rec.thread_off_cpu())


def test_stack_walks_refuse_a_loop_the_checks_missed() -> None:
    """Defence in depth: even given a cyclic tree, the walk ends in the sentence, not a hang."""
    labels = [FrameLabel(f"f{i}", "prog", False, True) for i in range(3)]
    parents, frames = array("q", [-1, 2, 1]), array("q", [0, 1, 2])
    builder = DisplayTreeBuilder(labels, parents, frames, "rec.stax")
    with pytest.raises(RecordingFormatError, match="rec.stax is damaged: stack 2 refers to itself"):
        builder.node_of(2)
    with pytest.raises(RecordingFormatError, match="refers to stack 7, which does not exist"):
        builder.node_of(7)
    with pytest.raises(RecordingFormatError, match="refers to stack -3, which does not exist"):
        builder.node_of(-3)
    contexts = RawStackContexts(labels, parents, frames, "rec.stax")
    with pytest.raises(RecordingFormatError, match="stack 1 refers to itself"):
        contexts.interrupt_of(1)
