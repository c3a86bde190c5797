"""Source lines in the views of a real recording: ``top --lines``, file and line in ``--json``
and in flame graph tooltips, ``--no-inline`` folding inlined calls into their caller."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.core.analysis.conftest import needs_root, stax, stax_json

pytestmark = [needs_root, pytest.mark.root]

MIX_BODY = range(8, 13)
"""The lines of mix()'s loop in workloads/inline_lines.c."""


def _user_rows(rec: Path, *flags: str) -> list[dict]:
    return [f for f in stax_json("top", str(rec), "-n", "-1", *flags)["functions"] if not f["is_kernel"]]


def test_inlined_calls_are_frames_and_no_inline_folds_them(inline_rec: Path) -> None:
    rows = {f["function"]: f for f in _user_rows(inline_rec)}
    assert rows["mix"]["is_inline"] and rows["mix"]["self"] > 0
    folded = {f["function"]: f for f in _user_rows(inline_rec, "--no-inline")}
    assert "mix" not in folded and not any(f["is_inline"] for f in folded.values())
    # mix's samples now belong to outer, the function it was inlined into
    assert folded["outer"]["self"] == rows["outer"]["self"] + rows["mix"]["self"]
    assert "mix" not in stax("collapse", str(inline_rec), "--no-inline").stdout
    assert ";mix " in stax("collapse", str(inline_rec)).stdout


def test_top_lines_ranks_source_lines(inline_rec: Path) -> None:
    rows = _user_rows(inline_rec, "--lines")
    mix = [f for f in rows if f["function"] == "mix"]
    assert len(mix) >= 2  # one row per line of the loop that has samples
    assert all(f["file"].endswith("inline_lines.c") for f in mix)
    in_loop = sum(f["self"] for f in mix if f["line"] in MIX_BODY)  # a tick may land on the call's line
    assert in_loop >= 0.95 * sum(f["self"] for f in mix), mix
    assert sum(f["self"] for f in mix) == next(f for f in _user_rows(inline_rec)
                                               if f["function"] == "mix")["self"]
    # folded: the lines are still the loop's (where the code is), now under outer
    folded = [f for f in _user_rows(inline_rec, "--lines", "--no-inline") if f["function"] == "outer"]
    hot = max(folded, key=lambda f: f["self"])
    assert hot["line"] in MIX_BODY
    text = stax("top", str(inline_rec), "--lines", "-n", "3").stdout
    assert re.search(r"\[\.\] mix \(inlined\)\s+inline_lines\.c:\d+", text), text
    assert "file:line" in text.splitlines()[3]


def test_json_and_flamegraph_tooltips_carry_file_and_line(cxx_rec: Path, tmp_path: Path) -> None:
    rows = {f["function"]: f for f in _user_rows(cxx_rec)}
    operator = rows["geo::Vec<double>::operator+(geo::Vec<double> const&) const"]
    assert operator["file"].endswith("cxx_names.cpp") and 10 <= operator["line"] <= 15
    svg = tmp_path / "f.svg"
    stax("flamegraph", str(cxx_rec), "-o", str(svg))
    title = re.search(r"<title>geo::Vec&lt;double&gt;::operator\+[^<]*</title>", svg.read_text())
    assert title and re.search(r"cxx_names\.cpp:1[0-5]</title>", title.group(0)), title


def test_lines_is_for_functions(cxx_rec: Path) -> None:
    proc = stax("top", str(cxx_rec), "--lines", "--by", "image", check=False)
    assert proc.returncode == 2
    assert proc.stderr == "stax: --lines splits functions by source line; use it without --by image.\n"
