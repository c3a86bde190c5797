"""What the flame payload itself carries to the page: each frame's file:line for the tooltip (no
/api/top needed), and off the CPU how many frames that are not code were dropped."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from tests.web.browser.conftest import served
from tests.web.conftest import needs_root

HOTSPOTS = REPO / "examples" / "hotspots.c"


def _body_lines(function: str) -> range:
    """The lines of ``function``'s body in examples/hotspots.c (its signature to its closing brace)."""
    lines = HOTSPOTS.read_text().splitlines()
    first = next(i for i, text in enumerate(lines, 1) if re.search(rf"\bvoid {function}\(", text))
    last = next(i for i, text in enumerate(lines[first:], first + 1) if text.startswith("}"))
    return range(first, last + 1)


@needs_root
@pytest.mark.slow
def test_tooltip_shows_the_source_line_from_the_flame_payload(ui, hotspots_rec):
    with served(hotspots_rec) as url:
        asked: list[str] = []
        ui.page.on("request", lambda r: asked.append(r.url) if "/api/top" in r.url else None)
        ui.page.route("**/api/top*", lambda route: route.abort())  # the tooltip must not need it
        ui.open(url)
        ui.page.mouse.move(*ui.frame_centre("hot_a"))
        tip = ui.page.locator("#tooltip")
        assert tip.is_visible()
        text = tip.inner_text()
        found = re.search(r"hotspots\.c:(\d+)", text)
        assert found and int(found.group(1)) in _body_lines("hot_a"), text
        assert asked == [], asked  # on-CPU tooltips ask nothing more of the server
        ui.page.unroute("**/api/top*")
        ui.console_errors.clear()  # the aborted request, if any, is not the page's fault


def test_off_cpu_legend_counts_frames_that_are_not_code(ui, non_code_rec):
    with served(non_code_rec) as url:
        ui.open(url + "#mode=offcpu")
        legend = ui.page.locator("[data-role=non-code]")
        assert legend.inner_text() == "dropped: 1 frame that is not code, from the stacks of 3 spans"
        assert not [f for f in ui.frames() if f["name"].startswith("[unknown]")]
        assert [f["name"] for f in sorted(ui.frames(), key=lambda f: f["depth"])] == ["all", "main", "nap"]


@needs_root
@pytest.mark.slow
def test_diff_says_what_of_the_selection_the_base_cannot_take(ui, rec_1_1, rec_3_1):
    from stax_web.base_selection import TIME_RANGE_NOTE

    with served(rec_1_1, "--base", str(rec_3_1)) as url:
        ui.open(url + "#view=diff&start=0&end=500000000")
        notes = ui.page.locator("[data-role=base-note]")
        assert notes.count() == 1 and notes.inner_text() == TIME_RANGE_NOTE
