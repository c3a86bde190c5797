"""``stax export -f folded``: exact lines, with and without the perf/inferno suffixes."""

from __future__ import annotations

from pathlib import Path

from tests.exports.conftest import stax
from tests.exports.synthetic_export import FOLDED, FOLDED_ANNOTATED


def test_folded_lines_are_the_function_names(export_rec: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.folded"
    stax("export", str(export_rec), "--format", "folded", "-o", str(out))
    assert out.read_text().splitlines() == FOLDED


def test_annotate_marks_kernel_inline_and_jit_frames(export_rec: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.folded"
    stax("export", str(export_rec), "--format", "folded", "--annotate", "-o", str(out))
    assert out.read_text().splitlines() == FOLDED_ANNOTATED


def test_collapse_and_render_write_the_same_lines(export_rec: Path) -> None:
    """One renderer behind `stax export -f folded`, `stax collapse` and `stax render -f collapsed`."""
    assert stax("collapse", str(export_rec), "--annotate").stdout.splitlines() == FOLDED_ANNOTATED
    assert stax("render", str(export_rec), "--format", "collapsed").stdout.splitlines() == FOLDED
