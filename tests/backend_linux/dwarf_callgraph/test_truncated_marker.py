"""A sample whose user stack was cut short gets a synthetic ``[truncated]`` root frame (RecordingBuilder)."""

from __future__ import annotations

from pathlib import Path

from stax.events import ImageKind, ImageLoad, Sample
from stax.recording.interner import TRUNCATED_FRAME
from stax.recording.reader import Recording
from stax.recording.writer import RecordingBuilder


def _names_root_first(recording: Recording) -> dict[int, list[str]]:
    labels = recording.frame_labels()
    parents, frames = recording.stack_arrays()
    out: dict[int, list[str]] = {}
    for stack_id, _count, _weight in recording.stack_totals():
        names = []
        at = stack_id
        while at >= 0:
            names.append(labels[frames[at]].name)
            at = parents[at]
        out[stack_id] = names[::-1]
    return out


def test_truncated_stack_gets_a_root_marker(tmp_path: Path) -> None:
    builder = RecordingBuilder(tmp_path / "t.stax")
    builder.consume([
        ImageLoad(0, 7, 0x1000, 0x2000, 0, "/bin/prog", ImageKind.ELF),
        Sample(1, 7, 7, 0, 1000, (0xFFFFFFFF81000010,), (0x1100, 0x1200), user_stack_truncated=True),
        Sample(2, 7, 7, 0, 1000, (), (0x1100, 0x1200), user_stack_truncated=False),
    ])
    builder.finish(symbolicate=False)
    recording = Recording.open(tmp_path / "t.stax")
    try:
        stacks = sorted(_names_root_first(recording).values(), key=len)
    finally:
        recording.close()
    complete, truncated = stacks
    assert complete == ["prog+0x200", "prog+0x100"]  # root first; no marker
    # the marker is the root; user frames follow, kernel frames stay leaf-most
    assert truncated[0] == TRUNCATED_FRAME
    assert truncated[1:3] == complete
    assert truncated[3].startswith("[kernel.kallsyms]")
