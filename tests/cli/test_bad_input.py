"""Bad input gets one plain sentence, a non-zero exit and no traceback."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.cli.conftest import stax


def assert_one_sentence(proc, *needles: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_command_that_does_not_exist(tmp_path: Path) -> None:
    proc = stax("record", "-o", str(tmp_path / "x.stax"), "--", "no-such-program-xyz", check=False)
    assert_one_sentence(proc, "no-such-program-xyz")
    assert not (tmp_path / "x.stax").exists()


def test_pid_that_does_not_exist(tmp_path: Path) -> None:
    proc = stax("record", "-p", "999999", "-o", str(tmp_path / "x.stax"), check=False)
    assert_one_sentence(proc, "999999")


def test_not_a_pid(tmp_path: Path) -> None:
    assert_one_sentence(stax("record", "-p", "abc", check=False), "abc")


def test_nothing_to_record() -> None:
    assert_one_sentence(stax("record", check=False), "Nothing to record")


@pytest.mark.parametrize(("value", "sentence"), [
    ("fp-only,512", "stax: --call-graph 'fp-only,512' is not supported; use 'fp[,SIZE]', 'fp-only' or "
                    "'dwarf[,SIZE]'."),
    ("lbr", "stax: --call-graph 'lbr' is not supported; use 'fp[,SIZE]', 'fp-only' or 'dwarf[,SIZE]'."),
    ("fp,4", "stax: --call-graph stack size '4' must be a number from 8 to 65528."),
])
def test_bad_call_graph(value: str, sentence: str, tmp_path: Path) -> None:
    proc = stax("record", "--call-graph", value, "-o", str(tmp_path / "x.stax"), "--", "true", check=False)
    assert_one_sentence(proc)
    assert proc.stderr.strip() == sentence
    assert not (tmp_path / "x.stax").exists()


def test_unknown_option() -> None:
    assert_one_sentence(stax("top", "--frobnicate", "x.stax", check=False), "frobnicate")


@pytest.mark.parametrize("command", ["top", "collapse", "flamegraph"])
def test_missing_recording(command: str, tmp_path: Path) -> None:
    extra = ["-o", str(tmp_path / "o.svg")] if command == "flamegraph" else []
    proc = stax(command, str(tmp_path / "missing.stax"), *extra, check=False)
    assert_one_sentence(proc, "does not exist")


def test_corrupt_recording(tmp_path: Path) -> None:
    bad = tmp_path / "bad.stax"
    bad.write_bytes(os.urandom(50_000))
    assert_one_sentence(stax("top", str(bad), check=False), "corrupt")


def _real_recording(tmp_path: Path) -> Path:
    from stax.events import ImageKind, ImageLoad, Sample, ThreadName
    from stax.recording.writer import RecordingBuilder

    path = tmp_path / "real.stax"
    builder = RecordingBuilder(path)
    events = [ImageLoad(0, 5, 0x1000, 0x9000, 0, "/bin/x", ImageKind.ELF), ThreadName(0, 5, 5, "x")]
    events += [Sample(i, 5, 5, 0, 1000, (), tuple(range(0x1000 + i % 500, 0x1040 + i % 500, 4)))
               for i in range(30000)]
    builder.consume(events)
    builder.finish(symbolicate=False)
    return path


def test_truncated_recording(tmp_path: Path) -> None:
    path = _real_recording(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert_one_sentence(stax("top", str(path), check=False), "corrupt or truncated")


def test_newer_schema(tmp_path: Path) -> None:
    path = _real_recording(tmp_path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    assert_one_sentence(stax("top", str(path), check=False), "newer", "upgrade")
