"""``stax top|flamegraph|collapse|render``: through ``stax.cli.app.run`` and the real executable."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stax.cli.app import run
from tests.render.synthetic_recording import write_recording

STAX = str(Path(sys.executable).parent / "stax")


def run_out(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_top_json(hot_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_out(capsys, "top", str(hot_rec), "--json")
    assert code == 0
    functions = {f["function"]: f for f in json.loads(out)["functions"]}
    assert functions["hot_a"]["self_percent"] == 75.0
    assert functions["hot_b"]["self_percent"] == 25.0
    assert functions["driver"]["total_percent"] == 100.0


def test_top_text_and_limit(hot_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_out(capsys, "top", str(hot_rec), "-n", "1")
    assert code == 0
    assert "[.] hot_a" in out and "hot_b" not in out


def test_filters(mixed_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_out(capsys, "top", str(mixed_rec), "--json", "--tid", "102")
    assert code == 0 and json.loads(out)["samples"] == 250
    code, out, _ = run_out(capsys, "top", str(mixed_rec), "--json", "-t", "101,102", "--comm", "worker-a")
    assert code == 0 and json.loads(out)["samples"] == 750
    code, out, _ = run_out(capsys, "top", str(mixed_rec), "--json", "-p", "100")
    assert code == 0 and json.loads(out)["samples"] == 1000


def test_empty_selection_is_one_sentence(mixed_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_out(capsys, "top", str(mixed_rec), "--pid", "4242")
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and "No samples" in err and "--pid 4242" in err


def test_bad_pid(mixed_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_out(capsys, "top", str(mixed_rec), "--pid", "abc")
    assert code == 2 and "'abc' is not a process id" in err


def test_collapse_stdout_and_file(hot_rec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_out(capsys, "collapse", str(hot_rec))
    assert code == 0
    assert sum(int(line.rsplit(" ", 1)[1]) for line in out.splitlines()) == 1000
    target = tmp_path / "out.folded"
    code, out, err = run_out(capsys, "collapse", str(hot_rec), "-o", str(target), "--per-thread")
    assert code == 0 and out == "" and "wrote" in err
    assert target.read_text().splitlines() == ["prog-100;main;driver;hot_a 750",
                                               "prog-100;main;driver;hot_b 250"]


def test_flamegraph(hot_rec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg = tmp_path / "hot.svg"
    code, _, _ = run_out(capsys, "flamegraph", str(hot_rec), "-o", str(svg), "--title", "Hot")
    assert code == 0
    root = ET.parse(svg).getroot()
    assert "hot_a" in svg.read_text() and ">Hot<" in svg.read_text()
    assert root.get("data-inverted") == "0"
    code, _, _ = run_out(capsys, "flamegraph", str(hot_rec), "-o", str(svg), "--inverted")
    assert code == 0 and ET.parse(svg).getroot().get("data-inverted") == "1"
    assert not list(tmp_path.glob(".*tmp*"))  # the temporary file was renamed into place


def test_flamegraph_default_output_next_to_recording(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    rec = write_recording(tmp_path / "d.stax", [("main", 3)])
    assert run_out(capsys, "flamegraph", str(rec))[0] == 0
    assert (tmp_path / "d.svg").is_file()


def test_render_any_renderer(hot_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_out(capsys, "render", str(hot_rec), "--format", "collapsed")
    assert code == 0 and out.splitlines()[0] == "main;driver;hot_a 750"
    code, out, _ = run_out(capsys, "render", str(hot_rec), "--format", "top:json", "-n", "1")
    assert code == 0 and len(json.loads(out)["functions"]) == 1
    code, _, err = run_out(capsys, "render", str(hot_rec), "--format", "nosuch")
    assert code != 0 and "No renderer named 'nosuch'" in err and "flamegraph" in err
    code, _, err = run_out(capsys, "render", str(hot_rec), "--format", "top:svg")
    assert code != 0 and "does not write 'svg'" in err


def test_unwritable_output(hot_rec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_out(capsys, "flamegraph", str(hot_rec), "-o", str(tmp_path / "no" / "x.svg"))
    assert code != 0 and "Cannot write" in err


# -- the real executable: bad input is one line on stderr, never a traceback -------------------


def _stax(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STAX_PLUGINS": "render"}  # only what these commands need
    return subprocess.run([STAX, *args], capture_output=True, text=True, timeout=60, env=env)


def _bad_inputs(tmp_path: Path, hot_rec: Path) -> dict[str, tuple[Path, str]]:
    corrupt = tmp_path / "corrupt.stax"
    corrupt.write_bytes(os.urandom(64 * 1024))
    big = write_recording(tmp_path / "big.stax", [(f"main;f{i % 300};g{i}", 20) for i in range(2000)])
    truncated = tmp_path / "truncated.stax"
    data = big.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    newer = tmp_path / "newer.stax"
    newer.write_bytes(hot_rec.read_bytes())
    db = sqlite3.connect(newer)
    db.execute("PRAGMA user_version=99")
    db.close()
    return {
        "corrupt": (corrupt, "corrupt"),
        "truncated": (truncated, "corrupt or truncated"),
        "newer": (newer, "newer"),
        "missing": (tmp_path / "missing.stax", "does not exist"),
    }


@pytest.mark.parametrize("command", ["top", "flamegraph", "collapse", "render"])
def test_bad_files_through_the_executable(command: str, tmp_path: Path, hot_rec: Path) -> None:
    extra = {"flamegraph": ["-o", str(tmp_path / "x.svg")], "render": ["--format", "top"]}
    for kind, (path, needle) in _bad_inputs(tmp_path, hot_rec).items():
        proc = _stax(command, str(path), *extra.get(command, []))
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode != 0, kind
        assert "Traceback" not in proc.stderr, proc.stderr
        assert len(lines) == 1 and needle in lines[0], (kind, proc.stderr)
        assert proc.stdout == ""


def test_unknown_renderer_through_the_executable(hot_rec: Path) -> None:
    proc = _stax("render", str(hot_rec), "--format", "nosuch")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "nosuch" in proc.stderr


def test_collapse_annotate(mixed_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_out(capsys, "collapse", str(mixed_rec), "--annotate", "--tid", "102")
    assert code == 0
    assert "main;work;sys_write_[k];vfs_write_[k] 200" in out.splitlines()
