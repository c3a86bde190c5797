"""The ``flamegraph`` renderer: well-formed standalone SVG, widths, inversion, size."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stax.analysis.profile import Profile
from stax.contracts import RenderOptions
from stax_render.flamegraph import FlamegraphRenderer
from stax_render.palette import frame_colour

SVG = "{http://www.w3.org/2000/svg}"


def render(rec: Path, **options: object) -> str:
    out = io.StringIO()
    FlamegraphRenderer().render(Profile.from_path(rec), RenderOptions(**options), out)
    return out.getvalue()


def frames(svg: str) -> dict[str, list[ET.Element]]:
    """Frame groups by function name (the first line of their title)."""
    root = ET.fromstring(svg)
    out: dict[str, list[ET.Element]] = {}
    for g in root.iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        if title is not None:
            out.setdefault(title.text.split("\n")[0], []).append(g)
    return out


def rect(g: ET.Element) -> ET.Element:
    return g.find(f"{SVG}rect")


def test_well_formed_and_standalone(hot_rec: Path) -> None:
    svg = render(hot_rec, title="Hot <&> test")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert "hot_a" in svg and "Hot &lt;&amp;&gt; test" in svg
    assert "href" not in svg and "http://" not in svg.replace("http://www.w3.org/2000/svg", "")
    assert root.find(f"{SVG}script") is not None
    assert root.find(f".//{SVG}text[@id='unzoom']") is not None
    assert root.find(f".//{SVG}text[@id='search']") is not None
    assert root.find(f".//{SVG}text[@id='matched']") is not None


def test_widths_follow_samples_and_root_is_at_the_bottom(hot_rec: Path) -> None:
    by_name = frames(render(hot_rec))
    a, b, driver, everything = (by_name[n][0] for n in ("hot_a", "hot_b", "driver", "all"))
    assert a.get("data-n") == "750" and b.get("data-n") == "250" and driver.get("data-n") == "1000"
    width = float(rect(everything).get("width"))
    assert float(rect(a).get("width")) == pytest.approx(width * 0.75, abs=0.01)
    assert float(rect(a).get("y")) < float(rect(driver).get("y")) < float(rect(everything).get("y"))
    assert "750 samples, 75.00%" in a.find(f"{SVG}title").text


def test_inverted_puts_leaf_functions_at_the_root_level(hot_rec: Path) -> None:
    by_name = frames(render(hot_rec, inverted=True))
    everything, a, b = by_name["all"][0], by_name["hot_a"][0], by_name["hot_b"][0]
    y_root = float(rect(everything).get("y"))
    assert float(rect(a).get("y")) == float(rect(b).get("y")) == y_root + 16  # icicle: below root
    driver_rows = {float(rect(g).get("y")) for g in by_name["driver"]}
    assert driver_rows == {y_root + 32}
    assert len(by_name["main"]) == 2  # one under each callee
    assert ET.fromstring(render(hot_rec, inverted=True)).get("data-inverted") == "1"


def test_kinds_are_coloured_and_marked(mixed_rec: Path) -> None:
    svg = render(mixed_rec)
    by_name = frames(svg)
    kernel, user, inline = by_name["vfs_write"][0], by_name["compute"][0], by_name["inner_inline"][0]
    assert kernel.get("class") == "k" and inline.get("class") == "i" and user.get("class") is None
    for g in (kernel, user, inline):
        assert rect(g).get("fill") == frame_colour(
            next(f for f in Profile.from_path(mixed_rec).frames
                 if f.name == g.find(f"{SVG}title").text.split("\n")[0]))
    blue = re.match(r"rgb\((\d+),(\d+),(\d+)\)", rect(kernel).get("fill")).groups()
    assert int(blue[2]) > int(blue[0])
    red = re.match(r"rgb\((\d+),(\d+),(\d+)\)", rect(user).get("fill")).groups()
    assert int(red[0]) > int(red[2])
    assert "inlined" in inline.find(f"{SVG}title").text
    assert 'parse&lt;a;b&gt;&amp;&quot;q&quot;' in svg  # escaped, semicolons kept in the SVG


def test_control_characters_in_names_stay_well_formed(tmp_path: Path) -> None:
    from tests.render.synthetic_recording import write_recording

    rec = write_recording(tmp_path / "odd.stax", [("main;odd", 5)], rename={"odd": "bad\x01name]]>\x7f"})
    ET.fromstring(render(rec))


def test_script_parses_in_node(hot_rec: Path, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = ET.fromstring(render(hot_rec)).find(f"{SVG}script").text
    path = tmp_path / "fg.js"
    path.write_text(script)
    subprocess.run([node, "--check", str(path)], check=True)


def test_ten_thousand_stacks_stay_small(tmp_path: Path) -> None:
    from tests.render.synthetic_recording import write_recording

    stacks = [(f"main;mod{i % 50};fn{i % 1000};leaf{i}", 1 + (i % 7)) for i in range(10_000)]
    rec = write_recording(tmp_path / "wide.stax", stacks)
    svg = render(rec)
    ET.fromstring(svg)
    size = len(svg.encode())
    print(f"\nflamegraph of 10,000 distinct stacks: {size / 1024:,.0f} KiB,"
          f" {svg.count('<g ')} frames drawn")
    assert size < 8 * 1024 * 1024


def run_script(svg: str, actions: list[list[object]]) -> dict:
    """Run the SVG's script under node with a minimal DOM, apply ``actions``, return the state."""
    import json

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    root = ET.fromstring(svg)
    ids = {el.get("id"): {"attrs": dict(el.attrib), "text": el.text or ""}
           for el in root.iter() if el.get("id") and el.get("id") != "frames"}
    groups = [g for g in root.find(f".//{SVG}g[@id='frames']") if g.tag == f"{SVG}g"]
    frames = [{"g": dict(g.attrib), "rect": dict(rect(g).attrib),
               "title": g.find(f"{SVG}title").text,
               "text": {"attrs": dict(g.find(f"{SVG}text").attrib), "text": g.find(f"{SVG}text").text or ""}}
              for g in groups]
    payload = {"script": root.find(f"{SVG}script").text, "root": dict(root.attrib), "ids": ids,
               "frames": frames, "actions": actions}
    proc = subprocess.run([node, str(Path(__file__).with_name("flamegraph_dom.js"))],
                          input=json.dumps(payload), capture_output=True, text=True, check=True)
    state = json.loads(proc.stdout)
    state["names"] = [f["title"].split("\n")[0] for f in frames]
    return state


def test_script_zooms_and_resets(hot_rec: Path) -> None:
    svg = render(hot_rec)
    state = run_script(svg, [])
    names = state["names"]
    full = state["frames"][names.index("all")]["width"]
    assert state["unzoomHidden"]
    zoomed = run_script(svg, [["click", names.index("hot_b")]])
    by_name = dict(zip(names, zoomed["frames"], strict=True))
    assert by_name["hot_b"]["width"] == pytest.approx(full) and by_name["hot_b"]["x"] == pytest.approx(10)
    assert "hide" in by_name["hot_a"]["cls"]
    assert "parent" in by_name["driver"]["cls"] and by_name["driver"]["width"] == pytest.approx(full)
    assert by_name["hot_b"]["text"] == "hot_b" and not zoomed["unzoomHidden"]
    back = run_script(svg, [["click", names.index("hot_b")], ["unzoom"]])
    assert back["frames"] == state["frames"] and back["unzoomHidden"]


def test_script_search_highlights_and_counts_once(mixed_rec: Path) -> None:
    svg = render(mixed_rec)
    state = run_script(svg, [["search", "^fib$"]])
    names = state["names"]
    assert state["matched"].startswith("Matched: 10.00% of samples")  # 3 nested fib frames, 100 samples
    fills = {f["fill"] for n, f in zip(names, state["frames"], strict=True) if n == "fib"}
    assert fills == {"rgb(230,0,230)"}
    assert state["search"] == "Reset Search"
    assert run_script(svg, [["search", "work|main"]])["matched"].startswith("Matched: 100.00%")
    assert run_script(svg, [["search", "parse<a;b"]])["matched"].startswith("Matched: 5.00%")
    assert run_script(svg, [["search", "("]])["matched"].startswith("Matched: 0.00%")  # bad regex: text
    cleared = run_script(svg, [["search", "fib"], ["clear"]])
    assert cleared["frames"] == run_script(svg, [])["frames"] and cleared["search"] == "Search"
