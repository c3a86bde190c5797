"""A recording the recorder never finished says so in every view: on stderr, or a JSON field.

The file is written by the real :class:`RecordingBuilder` and left as a killed recorder
leaves it: committed, never finished (``meta.state`` stays ``"recording"``).  The
end-to-end cases (``kill -9`` of ``stax record``, a full disk) are in
tests/cli/test_record_reliability.py.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from stax.blocked_reason import BlockedReason
from stax.cli.app import run
from stax.events import ImageLoad, OffCpuInterval, Sample, ThreadName
from stax.recording.recording_state import STATE_COMPLETE, STATE_KEY, STATE_RECORDING
from stax.recording.writer import RecordingBuilder
from tests.render.synthetic_recording import write_recording

MS = 1_000_000
NOTICE = "incomplete recording: stax record was killed or ran out of disk space before it finished"


def _meta_state(path: Path) -> object:
    db = sqlite3.connect(path)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (STATE_KEY,)).fetchone()
        return json.loads(row[0]) if row else None
    finally:
        db.close()


@pytest.fixture(scope="module")
def partial_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1.5 s of samples and one blocked span, committed; the recorder then 'dies'."""
    path = tmp_path_factory.mktemp("partial") / "partial.stax"
    builder = RecordingBuilder(path)
    assert _meta_state(path) == STATE_RECORDING  # marked before the first sample
    builder.consume([ImageLoad(0, 100, 0x400000, 0x500000, 0, "/usr/bin/prog"),
                     ThreadName(0, 100, 100, "prog")])
    start = 10_000 * MS
    builder.consume([Sample(start + i * MS, 100, 100, 0, MS, (), (0x401000, 0x402000))
                     for i in range(1501)])
    builder.consume([OffCpuInterval(start + 200 * MS, start + 300 * MS, 100, 100, 0,
                                    BlockedReason.SLEEP, "do_nanosleep", (), (0x403000, 0x402000))])
    builder.commit()
    builder.consume([Sample(start + 2000 * MS, 100, 100, 0, MS, (), (0x401000,))])  # never committed
    builder.db.close()  # what kill -9 leaves: the last commit, nothing after it
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "argv",
    [("top",), ("top", "--off-cpu"), ("collapse",), ("collapse", "--off-cpu"), ("threads",),
     ("wakers",), ("render", "-f", "collapsed"), ("render", "-f", "top")],
    ids=lambda argv: "-".join(a.strip("-") for a in argv),
)
def test_text_views_say_incomplete_on_stderr(partial_rec: Path, capsys: pytest.CaptureFixture[str],
                                             argv: tuple[str, ...]) -> None:
    code, out, err = _run(capsys, argv[0], str(partial_rec), *argv[1:])
    assert code == 0, err
    assert out  # the view itself works on what was kept
    assert f"stax: {NOTICE}, so the samples up to 1.50 s into the recording are shown" in err
    assert err.count("incomplete recording") == 1


def test_flamegraph_says_incomplete(partial_rec: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    svg = tmp_path / "partial.svg"
    code, _, err = _run(capsys, "flamegraph", str(partial_rec), "-o", str(svg))
    assert code == 0 and NOTICE in err
    assert "(incomplete recording)" in svg.read_text()  # the subtitle, for whoever opens it later


@pytest.mark.parametrize("argv", [("top", "--json"), ("top", "--json", "--off-cpu"),
                                  ("threads", "--json"), ("wakers", "--json"),
                                  ("render", "-f", "top:json")])
def test_json_views_carry_a_field(partial_rec: Path, capsys: pytest.CaptureFixture[str],
                                  argv: tuple[str, ...]) -> None:
    code, out, err = _run(capsys, argv[0], str(partial_rec), *argv[1:])
    assert code == 0, err
    assert json.loads(out)["incomplete"].startswith(NOTICE)
    assert "incomplete" not in err


def test_a_finished_recording_says_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec = write_recording(tmp_path / "done.stax", [("main;work", 10)])
    assert _meta_state(rec) == STATE_COMPLETE
    code, out, err = _run(capsys, "top", str(rec))
    assert code == 0 and err == ""
    code, out, err = _run(capsys, "top", str(rec), "--json")
    assert json.loads(out)["incomplete"] is None
