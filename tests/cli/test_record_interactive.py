"""Ctrl-C stops a recording cleanly and keeps the file; a terminal shows a live status line."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from stax.recording.reader import Recording
from tests.cli.conftest import STAX, wait_for_samples

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for perf_event_open")


@pytest.mark.parametrize("whole_group", [True, False], ids=["terminal-ctrl-c", "sigint-to-stax"])
def test_ctrl_c_keeps_the_recording(spinner_bin: Path, tmp_path: Path, whole_group: bool) -> None:
    rec = tmp_path / "interrupted.stax"
    proc = subprocess.Popen([STAX, "record", "-o", str(rec), "--", str(spinner_bin)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        committed = wait_for_samples(rec, proc, at_least=200)  # ~0.2 s of a spinning thread, committed
        if whole_group:  # what a terminal does: SIGINT to the foreground process group
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # a failed wait or a stax that ignored Ctrl-C: leave no spinner behind
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "stopped by Ctrl-C" in stderr
    recording = Recording.open(rec)
    assert recording.sample_count() >= committed  # nothing recorded before Ctrl-C was lost
    names = {label.name for label in recording.frame_labels()}
    assert "spin_here" in names
    # the profiled program did not outlive the recording
    out = subprocess.run(["pgrep", "-f", str(spinner_bin)], capture_output=True, text=True)
    assert out.stdout.strip() == ""


@pytest.mark.skipif(not shutil.which("script"), reason="util-linux script(1) provides the pty")
def test_status_line_on_a_terminal(hotspots: Path, tmp_path: Path) -> None:
    rec = tmp_path / "tty.stax"
    command = f"{STAX} record -o {rec} -- {hotspots} 1.2"
    out = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "TERM": "xterm"})
    assert out.returncode == 0, out.stdout
    assert "recording" in out.stdout and "samples" in out.stdout and "Ctrl-C" in out.stdout
    assert out.stdout.count("\x1b[K") >= 3  # the line is cleared and redrawn in place
    assert "recorded" in out.stdout  # the summary at the end
