"""An existing output is kept as NAME.old, and the wrong kind of file is never replaced (issue 14 item 3).

perf's habit: ``perf record`` renames ``perf.data`` to ``perf.data.old``.  stax does the same
for each command that writes ``-o`` (record, import, export and the other views); a file
that is not a recording is replaced by a recording only with ``--force`` (and is then kept as
NAME.old too), and a view's output never replaces a recording.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from stax.recording.reader import Recording
from tests.backend_macos.conftest import server_binary  # noqa: F401  (the fixture the ktrace below needs)
from tests.backend_macos.kdebug_builder import ktrace_file
from tests.backend_macos.server_trace import server_trace
from tests.cli.conftest import STAX, stax, wait_for_samples

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for perf_event_open")


def _command_of(path: Path) -> list[str]:
    recording = Recording.open(path)
    try:
        return recording.meta()["command_line"]
    finally:
        recording.close()


@needs_root
def test_rerecording_keeps_the_previous_as_old(tmp_path: Path) -> None:
    rec = tmp_path / "r.stax"
    for seconds in ("0.11", "0.12", "0.13"):
        stax("record", "-q", "-o", str(rec), "--", "sleep", seconds)
    assert _command_of(rec) == ["sleep", "0.13"]
    assert _command_of(tmp_path / "r.stax.old") == ["sleep", "0.12"]  # the older .old was replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.stax", "r.stax.old"]  # nothing else left


@needs_root
def test_a_file_that_is_not_a_recording_needs_force(tmp_path: Path) -> None:
    source = tmp_path / "main.c"
    source.write_text("int main(void) { return 0; }\n")
    proc = stax("record", "-o", str(source), "--", "true", check=False)
    assert proc.returncode == 2
    assert proc.stderr == (f"stax: {source} exists and is not a stax recording, so stax will not replace it;"
                           f" choose another -o path, or add --force to keep it as {source}.old and write"
                           " there.\n")
    assert source.read_text() == "int main(void) { return 0; }\n"
    assert not (tmp_path / "main.c.old").exists()
    stax("record", "-q", "--force", "-o", str(source), "--", "true")
    assert (tmp_path / "main.c.old").read_text() == "int main(void) { return 0; }\n"
    assert _command_of(source) == ["true"]


@needs_root
def test_an_old_that_is_not_a_recording_is_not_replaced(tmp_path: Path) -> None:
    rec, old = tmp_path / "r.stax", tmp_path / "r.stax.old"
    stax("record", "-q", "-o", str(rec), "--", "true")
    old.write_text("notes\n")
    proc = stax("record", "-o", str(rec), "--", "true", check=False)
    assert (proc.returncode, proc.stderr) == (
        2, f"stax: {old} exists and is not a stax recording, so stax will not replace it with the previous"
           f" {rec}; move it away, or add --force.\n")
    assert old.read_text() == "notes\n"


@needs_root
def test_a_failed_start_puts_both_back(tmp_path: Path) -> None:
    rec = tmp_path / "r.stax"
    stax("record", "-q", "-o", str(rec), "--", "sleep", "0.11")
    stax("record", "-q", "-o", str(rec), "--", "sleep", "0.12")
    proc = stax("record", "-o", str(rec), "--", "no-such-program-xyz", check=False)
    assert proc.returncode == 2
    assert _command_of(rec) == ["sleep", "0.12"]
    assert _command_of(tmp_path / "r.stax.old") == ["sleep", "0.11"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.stax", "r.stax.old"]


@needs_root
def test_a_killed_recording_moves_with_its_wal(spinner_bin: Path, tmp_path: Path) -> None:
    rec = tmp_path / "r.stax"
    proc = subprocess.Popen([STAX, "record", "-o", str(rec), "--", str(spinner_bin)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    committed = wait_for_samples(rec, proc, at_least=100)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert (tmp_path / "r.stax-wal").exists()  # the samples are still in the write-ahead log
    stax("record", "-q", "-o", str(rec), "--", "true")
    old = Recording.open(tmp_path / "r.stax.old")
    try:
        assert old.sample_count() >= committed
    finally:
        old.close()


@needs_root
def test_views_keep_the_previous_output_and_never_replace_a_recording(hotspots: Path,
                                                                      tmp_path: Path) -> None:
    rec = tmp_path / "r.stax"
    stax("record", "-q", "-o", str(rec), "--", str(hotspots), "0.3")
    out = tmp_path / "stacks.txt"
    out.write_text("mine\n")
    stax("export", str(rec), "-f", "folded", "-o", str(out))
    assert (tmp_path / "stacks.txt.old").read_text() == "mine\n"
    assert out.read_text() != "mine\n"
    for command in (["export", str(rec), "-f", "pprof"], ["flamegraph", str(rec)], ["collapse", str(rec)]):
        proc = stax(*command, "-o", str(rec), check=False)
        assert (proc.returncode, proc.stderr) == (
            2, f"stax: {rec} is a stax recording, which a view's output never replaces; choose another -o"
               " path.\n")
    stax("record", "-q", "-o", str(rec), "--", "true")  # now r.stax.old is a recording too
    flame = tmp_path / "r"
    flame.write_text("x\n")
    shutil.copyfile(tmp_path / "r.stax.old", tmp_path / "r.old")  # (a link would go, not its target)
    proc = stax("flamegraph", str(tmp_path / "r.stax.old"), "-o", str(flame), check=False)
    assert proc.returncode == 2 and "r.old is a stax recording" in proc.stderr
    assert _command_of(tmp_path / "r.old") == [str(hotspots), "0.3"] and flame.read_text() == "x\n"


def test_import_keeps_the_previous_as_old_and_needs_force_for_other_files(
        server_binary, tmp_path: Path) -> None:  # noqa: F811
    trace = tmp_path / "server.ktrace"
    trace.write_bytes(ktrace_file(server_trace(server_binary)))
    out = tmp_path / "server.stax"
    stax("import", str(trace), "-q", "-o", str(out))
    first = out.read_bytes()
    stax("import", str(trace), "-q", "-o", str(out))
    assert (tmp_path / "server.stax.old").read_bytes() == first
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    proc = stax("import", str(trace), "-o", str(notes), check=False)
    assert proc.returncode == 2 and proc.stderr.startswith(
        f"stax: {notes} exists and is not a stax recording, so stax will not replace it;")
    stax("import", str(trace), "-q", "--force", "-o", str(notes))
    assert (tmp_path / "notes.txt.old").read_text() == "mine\n"
