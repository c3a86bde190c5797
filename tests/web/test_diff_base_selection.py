"""A diff applies the page's selection to the base where it means something there: the mode and
transforms alike, a thread filter by thread name (ids differ between runs); a time range it
cannot apply, and the answer says so in a sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from stax_web.base_selection import TIME_RANGE_NOTE
from tests.render.synthetic_recording import write_recording
from tests.web.server import serve

NOW_THREADS = {100: "prog", 101: "alpha", 102: "beta"}
BASE_THREADS = {100: "prog", 201: "alpha", 202: "beta", 203: "gamma"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Now: alpha 30 samples in f_a, beta 10 in f_b. Base: alpha 10 in f_a, beta 30 in f_b, gamma 5."""
    work = tmp_path_factory.mktemp("diffsel")
    now = write_recording(work / "now.stax", [("main;f_a", 30, 101), ("main;f_b", 10, 102)],
                          threads=NOW_THREADS)
    base = write_recording(work / "base.stax", [("main;f_a", 10, 201), ("main;f_b", 30, 202),
                                                ("main;f_c", 5, 203)], threads=BASE_THREADS)
    return now, base


def test_thread_filter_selects_the_base_by_name(pair: tuple[Path, Path]) -> None:
    now, base = pair
    with serve(str(now), "--base", str(base)) as server:
        whole = server.api("/api/diff")
        alpha = server.api("/api/diff?tids=101")
        alpha_top = server.api("/api/diff/top?tids=101")
        beta_focus = server.api("/api/diff?tids=102&focus=f_b")
        window = server.api("/api/diff?start=0&end=5000000")
    assert whole["base_total_raw"] == 45 and whole["base_notes"] == []
    assert alpha["total"] == 30 and alpha["base_total_raw"] == 10  # the base's alpha only, not all 45
    assert alpha_top["base_total_raw"] == 10 and {r["function"] for r in alpha_top["rows"]} == {"f_a", "main"}
    assert alpha["base_notes"] == ["The thread filter selects in the base by name (thread ids differ between"
                                   " runs): its thread named alpha."]
    assert alpha_top["base_notes"] == alpha["base_notes"]
    assert beta_focus["base_total_raw"] == 30  # focus applies to the base too
    assert window["base_total_raw"] == 45 and window["base_notes"] == [TIME_RANGE_NOTE]


def test_a_thread_the_base_lacks_leaves_its_side_empty(pair: tuple[Path, Path]) -> None:
    now, base = pair
    with serve(str(base), "--base", str(now)) as server:  # gamma runs only in the (new) current one
        gamma = server.api("/api/diff?tids=203")
    assert gamma["total"] == 5 and gamma["base_total_raw"] == 0
    assert gamma["base_notes"] == ["No thread of the base is named gamma: the thread filter selects by name"
                                   " there (thread ids differ between runs), so its side is empty."]
