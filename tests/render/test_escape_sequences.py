"""Names holding terminal escape sequences never reach the terminal raw, in any text view.

A recording whose function, inlined function and thread names are escape sequences
(as another user's program or perf map can make them) goes through every text view
of the real CLI; the output holds the visible ``\\x1b`` escape and no ESC byte.  JSON
stays exact, and the SVG stays well-formed XML without control characters.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stax.cli.app import run
from tests.render.synthetic_recording import write_recording

EVIL_FUNCTION = "\x1b]0;pwned\x07\x1b[2Jevil"
EVIL_INLINE = "\x9b31m\x7finl"
EVIL_THREAD = "\x1b[31mthread"
CONTROL = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) != "\n"]


@pytest.fixture(scope="module")
def evil_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_recording(
        tmp_path_factory.mktemp("escapes") / "evil.stax",
        [("main;evil", 300, 101), ("main;evil;helper", 100, 101), ("main;other", 50, 100)],
        threads={100: "prog", 101: EVIL_THREAD},
        inlines={"helper": (EVIL_INLINE,)},
        rename={"evil": EVIL_FUNCTION},
    )


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    code = run(list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out, captured.err


def _no_control(text: str) -> None:
    found = sorted({f"{ord(c):#04x}" for c in text if c in CONTROL})
    assert not found, f"control characters reached the output: {found}"


@pytest.mark.parametrize(
    "argv",
    [
        ("top",),
        ("top", "-n", "-1"),
        ("collapse",),
        ("collapse", "--per-thread", "--annotate"),
        ("render", "-f", "top:text"),
        ("render", "-f", "collapsed"),
        ("threads",),
        ("top", "--comm", EVIL_THREAD),
        ("collapse", "--comm", "no-such\x1b[2J"),  # the error sentence quotes the argument
    ],
    ids=["top", "top-all", "collapse", "collapse-per-thread", "render-top", "render-collapsed",
         "threads", "top-comm", "error-sentence"],
)
def test_text_views_escape_names(evil_rec: Path, capsys: pytest.CaptureFixture[str],
                                 argv: tuple[str, ...]) -> None:
    code = run([argv[0], str(evil_rec), *argv[1:]])
    captured = capsys.readouterr()
    _no_control(captured.out)
    _no_control(captured.err)
    if code == 0:
        assert "\\x1b" in captured.out or "\\x9b" in captured.out  # the name is shown, escaped
    else:
        assert "no-such\\x1b[2J" in captured.err


def test_top_shows_each_name_escaped(evil_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = _run(capsys, "top", str(evil_rec), "-n", "-1")
    assert "[.] \\x1b]0;pwned\\x07\\x1b[2Jevil " in out
    assert "[.] \\x9b31m\\x7finl (inlined)" in out
    assert "\\x1b[31mthread-101" in out  # the threads line of the header


def test_collapse_escapes_after_folding(evil_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = _run(capsys, "collapse", str(evil_rec), "--per-thread")
    # ";" is the frame separator, so the name's ";" still becomes ":" (then ESC is escaped)
    assert "\\x1b[31mthread-101;main;\\x1b]0:pwned\\x07\\x1b[2Jevil 300\n" in out


def test_json_keeps_exact_names(evil_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = _run(capsys, "top", str(evil_rec), "--json", "-n", "-1")
    _no_control(out)  # json.dump writes them as \u001b
    data = json.loads(out)
    assert {f["function"] for f in data["functions"]} >= {EVIL_FUNCTION, EVIL_INLINE}
    assert EVIL_THREAD in {t["name"] for t in data["threads"]}
    out, _ = _run(capsys, "threads", str(evil_rec), "--json")
    _no_control(out)
    assert EVIL_THREAD in {t["name"] for t in json.loads(out)["threads"]}


def test_flamegraph_svg_is_xml_without_control_characters(evil_rec: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    svg = tmp_path / "evil.svg"
    _run(capsys, "flamegraph", str(evil_rec), "-o", str(svg), "--title", "t\x1b[2J")
    text = svg.read_text()
    _no_control(text.replace("\n", ""))
    root = ET.fromstring(text)  # well-formed
    titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
    names = {title.split("\n")[0] for title in titles}
    assert "\\x1b]0;pwned\\x07\\x1b[2Jevil" in names  # as in `stax top`, so search finds it
    assert "\\x9b31m\\x7finl" in names
    assert "t\\x1b[2J" in text
