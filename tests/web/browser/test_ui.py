"""The web UI in a real browser: `stax serve` on real recordings, chromium through playwright.

The 3:1 workload is tests/web/workloads/shares.c run as `shares 3 1` (hot_a does three times
hot_b's work); the diff compares `shares 1 1` (now) with it (the base), so hot_b grew. Frame geometry
is read from `window.__stax.frames()` (what the canvas drew, in CSS pixels), not from pixels.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import pytest

from tests.web.browser.conftest import served
from tests.web.conftest import needs_root

pytestmark = [needs_root, pytest.mark.slow]


def _near(value: float, want: float, tol: float) -> bool:
    return abs(value - want) <= tol


def test_flame_graph_widths_follow_the_work(ui, rec_3_1):
    with served(rec_3_1) as url:
        ui.open(url)
        root = ui.frame("all")
        hot_a, hot_b = ui.frame("hot_a"), ui.frame("hot_b")
        assert _near(hot_a["width"] / root["width"], 0.75, 0.08), (hot_a, root)
        assert _near(hot_b["width"] / root["width"], 0.25, 0.08), (hot_b, root)
        # the flame graph grows upwards: a callee is drawn above its caller
        canvas = ui.page.locator("canvas[data-role=flame]")
        assert canvas.count() == 1
        assert ui.frame("driver")["depth"] < hot_a["depth"]
        # the tooltip names the frame, its image, its source line and its share
        ui.page.mouse.move(*ui.frame_centre("hot_a"))
        tip = ui.page.locator("#tooltip")
        assert tip.is_visible()
        text = tip.inner_text()
        assert text.startswith("hot_a") and "shares" in text and "shares.c:" in text, text
        assert re.search(r"total [\d,]+ samples \((?:7\d|8[0-2])\.\d%\)", text), text
        ui.shot("flame")


def test_search_reports_matched_share(ui, rec_3_1):
    with served(rec_3_1) as url:
        ui.open(url)
        ui.page.keyboard.press("/")
        assert ui.js("() => document.activeElement.id") == "search"
        ui.page.keyboard.type("hot_b")
        ui.idle()
        shown = ui.page.locator("#match").inner_text()
        percent = float(re.match(r"([\d.]+)% matched", shown).group(1))
        assert _near(percent, 25, 8), shown
        assert _near(ui.js("() => window.__stax.search().percent"), 25, 8)
        matched = [f for f in ui.frames() if f["matched"]]
        assert {f["name"] for f in matched} == {"hot_b"}
        ui.shot("search")
        ui.page.keyboard.press("Escape")
        ui.idle()
        assert ui.page.locator("#match").inner_text() == ""
        assert not any(f["matched"] for f in ui.frames())


def test_click_zooms_and_the_url_keeps_it(ui, rec_3_1):
    with served(rec_3_1) as url:
        ui.open(url)
        ui.click_frame("hot_a")
        assert ui.page.locator("#breadcrumb span").last.inner_text() == "hot_a"
        root, zoomed = ui.frame("all"), ui.frame("hot_a")
        assert zoomed["width"] == pytest.approx(root["width"], rel=0.001)
        assert not any(f["name"] == "hot_b" for f in ui.frames()), "hot_b is outside the zoom"
        assert ui.js("() => window.__stax.timings().lastZoomMs") < 200
        hash_state = parse_qs(ui.page.url.split("#", 1)[1])
        assert hash_state["zoom"][0].endswith("driver;hot_a") and hash_state["fn"] == ["hot_a"]
        ui.shot("zoomed")
        # a reload (or the link shared) shows the same zoom
        ui.page.reload()
        ui.idle()
        assert ui.page.locator("#breadcrumb span").last.inner_text() == "hot_a"
        assert ui.frame("hot_a")["width"] == pytest.approx(ui.frame("all")["width"], rel=0.001)
        # the breadcrumb zooms back out
        ui.page.locator("#breadcrumb a[data-node='0']").click()
        ui.idle()
        assert _near(ui.frame("hot_a")["width"] / ui.frame("all")["width"], 0.75, 0.08)


def test_top_table_sorts_and_filters(ui, rec_3_1):
    with served(rec_3_1) as url:
        ui.open(url)
        ui.page.locator("#views button[data-view=top]").click()
        ui.idle()
        rows = ui.page.locator("#top-table tbody tr")
        assert rows.first.get_attribute("data-function") == "hot_a"
        assert rows.nth(1).get_attribute("data-function") == "hot_b"
        ui.shot("top")
        ui.page.locator("#top-table th[data-sort=total]").first.click()
        ui.idle()
        first = ui.page.locator("#top-table tbody tr").first.get_attribute("data-function")
        assert first not in ("hot_a", "hot_b"), "by total, a caller (driver, main...) comes first"
        assert "sort=total" in ui.page.url
        ui.page.locator("#top-filter").fill("hot_b")
        ui.page.wait_for_function("() => window.__stax.state().filter === 'hot_b'")
        ui.idle()
        names = ui.page.locator("#top-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.function)")
        assert names == ["hot_b"]


def test_transforms_change_the_tree(ui, rec_3_1):
    with served(rec_3_1) as url:
        ui.open(url + "#view=tree")
        names_js = "rs => rs.map(r => r.dataset.name)"
        tree_names = ui.page.locator(".tree .row[data-name]").evaluate_all(names_js)
        assert "driver" in tree_names and "hot_a" in tree_names
        # the hot path starts open; collapse driver, then expand it again
        driver = ".tree .row[data-name=driver]"
        assert ui.page.locator(driver).get_attribute("aria-expanded") == "true"
        rows_open = ui.page.locator(".tree .row[data-name]").count()
        ui.page.locator(f"{driver} .tog").click()
        assert ui.page.locator(driver).get_attribute("aria-expanded") == "false"
        assert ui.page.locator(".tree .row[data-name=hot_a]").count() == 0
        ui.page.locator(f"{driver} .tog").click()
        assert ui.page.locator(".tree .row[data-name]").count() == rows_open
        # merge driver: its callees now hang from main
        ui.page.evaluate("() => window.__stax.setState({merge: ['driver']})")
        ui.idle()
        assert ui.page.locator(".tree .row[data-name=driver]").count() == 0
        assert ui.page.locator(".chip", has_text="merge driver").count() == 1
        # focus on hot_b: only stacks through hot_b, rooted at it
        ui.page.evaluate("() => window.__stax.setState({merge: [], focus: ['hot_b'], view: 'flame'})")
        ui.idle()
        names = {f["name"] for f in ui.frames()}
        assert "hot_a" not in names and "hot_b" in names
        assert _near(ui.total() / ui.js("() => window.__stax.meta().sample_count"), 0.25, 0.08)
        # drop kernel frames; collapse libc into one frame named after it
        ui.page.evaluate("() => window.__stax.setState({focus: [], view: 'flame'})")
        ui.idle()
        frames = ui.frames()
        assert any(f["kind"] == 1 for f in frames), "the 2 s recording has some kernel frames (interrupts)"
        libc = ui.frame("__libc_start_call_main")["image"]
        ui.page.locator("#kernel-off").check()
        ui.idle()
        assert not any(f["kind"] == 1 for f in ui.frames())
        assert "kernel=0" in ui.page.url
        ui.page.evaluate("(img) => window.__stax.setState({collapse: [img]})", libc)
        ui.idle()
        names = {f["name"] for f in ui.frames()}
        assert "__libc_start_call_main" not in names, names
        assert any(libc.endswith(n) or n.endswith(libc.split("/")[-1]) for n in names), names
        # inverted: the leaf functions come first
        ui.page.evaluate("() => window.__stax.setState({collapse: [], view: 'tree', invert: true})")
        ui.idle()
        top_level = ui.page.locator(".tree .row[data-name]").evaluate_all(names_js)
        assert top_level[1] == "hot_a", top_level[:5]
        ui.shot("inverted")


def test_sandwich_and_source_of_hot_a(ui, rec_3_1):
    with served(rec_3_1) as url:
        ui.open(url + "#view=sandwich&fn=hot_a")
        callers = {f["name"] for f in ui.frames("callers")}
        callees = {f["name"] for f in ui.frames("callees")}
        assert "driver" in callers and "hot_b" not in callers, callers
        assert "keep" in callees or len(callees) >= 1, callees
        ui.shot("sandwich")
        ui.page.locator("#views button[data-view=source]").click()
        ui.idle()
        text = ui.page.locator("#view").inner_text()
        assert "hot_a" in text and "instructions" in text, text[:500]
        ui.shot("source")


def test_thread_filter_and_time_range_change_counts(ui, threads_rec):
    with served(threads_rec) as url:
        ui.open(url)
        everything = ui.total()
        meta = ui.js("() => window.__stax.meta()")
        threads = {t["name"]: t["tid"] for p in meta["processes"] for t in p["threads"]}
        # clicking worker-b in the threads table filters the flame graph to it (~1/3 of the work)
        ui.page.locator("#views button[data-view=threads]").click()
        ui.idle()
        ui.page.locator(f"#threads-table tr[data-tid='{threads['worker-b']}']").click()
        ui.idle()
        assert ui.js("() => window.__stax.state().view") == "flame"
        assert ui.js("() => window.__stax.state().tids") == [threads["worker-b"]]
        only_b = ui.total()
        assert 0.15 < only_b / everything < 0.5, (only_b, everything)
        ui.shot("thread")
        ui.page.locator(".chip button").first.click()  # remove the thread filter
        ui.idle()
        assert ui.total() == everything
        # dragging over the first half of the timeline keeps about half of the samples
        canvas = ui.page.locator("#timeline")
        box = canvas.bounding_box()
        plot_left = box["x"] + 180
        y = box["y"] + 30
        ui.page.mouse.move(plot_left + 1, y)
        ui.page.mouse.down()
        ui.page.mouse.move(plot_left + (box["width"] - 180) / 2, y, steps=5)
        ui.page.mouse.up()
        ui.idle()
        state = ui.js("() => window.__stax.state()")
        assert state["start"] is not None and state["end"] is not None
        half = ui.total()
        assert 0.2 < half / everything < 0.8, (half, everything)
        assert "start=" in ui.page.url and "end=" in ui.page.url
        ui.shot("range")
        # the range is in the URL: a reload shows the same counts; `t` switches to the call tree
        ui.page.reload()
        ui.idle()
        assert ui.total() == half
        ui.page.keyboard.press("t")
        ui.idle()
        assert ui.js("() => window.__stax.state().view") == "tree" and "view=tree" in ui.page.url
        assert ui.total() == half


def test_diff_marks_the_grown_function_red(ui, rec_1_1, rec_3_1):
    with served(rec_1_1, "--base", str(rec_3_1)) as url:
        ui.open(url)
        assert ui.page.locator("#views button[data-view=diff]").is_visible()
        ui.page.locator("#views button[data-view=diff]").click()
        ui.idle()

        def rgb(frame):
            return tuple(int(v) for v in re.findall(r"\d+", frame["colour"]))
        r, g, b = rgb(ui.frame("hot_b"))
        assert r > b + 60 and r > g + 60, ("hot_b grew: red", r, g, b)
        r, g, b = rgb(ui.frame("hot_a"))
        assert b > r, ("hot_a shrank (normalised): blue", r, g, b)
        grew = ui.page.locator("#diff-top tr[data-function=hot_b] td.grew")
        assert grew.count() == 1 and grew.inner_text().startswith("+")
        ui.shot("diff")


def test_every_view_renders_without_errors(ui, pingpong_rec):
    with served(pingpong_rec) as url:
        ui.open(url)
        for view in ("icicle", "tree", "top", "threads", "wakers"):
            ui.page.locator(f"#views button[data-view={view}]").click()
            ui.idle()
            assert ui.js("() => window.__stax.errors()") == [], view
            if view == "icicle":  # the root on top, callees below it
                assert ui.page.locator("canvas[data-role=icicle]").count() == 1
                root = ui.frame("all")
                assert root["y"] == 0 and all(f["y"] > 0 for f in ui.frames() if f["depth"] > 0)
        ui.page.locator("#mode").select_option("offcpu")
        ui.page.locator("#views button[data-view=flame]").click()
        ui.idle()
        assert ui.js("() => window.__stax.unit()") == "ns"
        assert len(ui.frames()) > 1
        reasons = {f["name"]: f["colour"] for f in ui.frames()}
        assert len(set(reasons.values())) >= 2, "frames coloured by blocked reason"
        ui.shot("offcpu")
        ui.page.locator("#mode").select_option("runnable")
        ui.idle()
        assert ui.js("() => window.__stax.unit()") == "ns"
        assert "mode=runnable" in ui.page.url
        assert ui.js("() => window.__stax.errors()") == []
