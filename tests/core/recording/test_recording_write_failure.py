"""A write that fails (SQLITE_FULL) keeps the last commit and says so in one sentence.

SQLite answers ``database or disk is full`` both when the disk is full and when the file
reaches ``PRAGMA max_page_count``; the cap makes the failure land exactly where a test
wants it (the real full disk, a 256 KiB tmpfs, is tests/cli/test_record_reliability.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stax.errors import RecordingWriteError
from stax.events import ImageLoad, Sample, ThreadName
from stax.recording.reader import Recording
from stax.recording.recording_state import STATE_RECORDING, recording_incomplete_notice
from stax.recording.writer import RecordingBuilder

MS = 1_000_000


def _samples(first: int, count: int) -> list[Sample]:
    return [Sample((first + i) * MS, 7, 7, 0, MS, (), (0x401000 + 16 * (i % 500), 0x402000))
            for i in range(count)]


def _started(path: Path) -> RecordingBuilder:
    builder = RecordingBuilder(path)
    builder.consume([ImageLoad(0, 7, 0x400000, 0x500000, 0, "/bin/prog"), ThreadName(0, 7, 7, "prog")])
    builder.consume(_samples(0, 2001))
    builder.commit()
    return builder


def _cap_at_current_size(builder: RecordingBuilder, more: int = 0) -> None:
    pages = builder.db.execute("PRAGMA page_count").fetchone()[0]
    builder.db.execute(f"PRAGMA max_page_count={pages + more}")


def _read(path: Path) -> tuple[int, object, str | None]:
    recording = Recording.open(path)
    try:
        return recording.sample_count(), recording.meta().get("state"), recording_incomplete_notice(recording)
    finally:
        recording.close()


def test_full_while_recording_keeps_the_last_commit(tmp_path: Path) -> None:
    path = tmp_path / "rec.stax"
    builder = _started(path)
    _cap_at_current_size(builder)
    with pytest.raises(RecordingWriteError) as failure:
        builder.consume(_samples(2001, 50_000))
        builder.commit()
    assert str(failure.value) == (
        f"The disk is full: {path} keeps the first 2.00 s (2,001 samples), readable as an incomplete"
        f" recording with `stax top {path}`; free some space or record to another disk with -o.")
    builder.abandon()  # what `stax record` does next: must neither fail nor remove the file
    count, state, notice = _read(path)
    assert (count, state) == (2001, STATE_RECORDING)
    assert notice and "samples up to 2.00 s" in notice


def test_full_while_finishing_keeps_every_sample(tmp_path: Path) -> None:
    """finish() commits what was captured before it writes totals and names."""
    path = tmp_path / "rec.stax"
    builder = _started(path)
    builder.consume(_samples(2001, 999))  # not committed yet when finish() starts
    # room for these rows (their block grows by a 512-byte page), none for the totals and names after them
    _cap_at_current_size(builder, more=2)
    with pytest.raises(RecordingWriteError) as failure:
        builder.finish(symbolicate=False)
    assert re.search(r"keeps the first 3\.00 s \(3,000 samples\)", str(failure.value))
    assert _read(path)[:2] == (3000, STATE_RECORDING)


def test_full_before_the_first_commit_removes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rec.stax"
    builder = RecordingBuilder(path)
    _cap_at_current_size(builder)
    with pytest.raises(RecordingWriteError, match=r"^The disk is full: nothing was kept of .*, so it was"
                                                  r" removed; free some space"):
        builder.consume(_samples(0, 50_000))
        builder.commit()
    builder.abandon()
    assert not any(tmp_path.iterdir())
