"""``stax record`` when things go wrong: killed with -9, a full disk, SIGTERM, slow post-processing.

* kill -9 of stax: the profiled command dies with it (PR_SET_PDEATHSIG), and the file it
  leaves is read by ``stax top`` as an incomplete recording.
* a full disk (a real 256 KiB tmpfs): one sentence naming the file and what it keeps,
  exit status 1, no traceback; the kept samples are readable.
* SIGTERM is named in the summary, not reported as Ctrl-C.
* the duration is the capture time, without the DWARF unwinding done after it.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from stax.recording.reader import Recording
from tests.cli.conftest import REPO, STAX, stax, wait_for_samples
from tests.conftest import compile_c

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (perf_event_open, mount)")

NOTICE = "stax: incomplete recording: stax record was killed or ran out of disk space before it finished"


def _start_recording(rec: Path, *command: str) -> subprocess.Popen[str]:
    return subprocess.Popen([STAX, "record", "-o", str(rec), "--", *command], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _child_of(pid: int) -> int:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def _exits_within(pidfd: int, seconds: float) -> bool:
    """True once the process behind ``pidfd`` has exited (its pidfd turns readable)."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(int(seconds * 1000)))


def test_kill_9_ends_the_target_and_leaves_an_incomplete_recording(spinner_bin: Path,
                                                                   tmp_path: Path) -> None:
    rec = tmp_path / "killed.stax"
    proc = _start_recording(rec, str(spinner_bin))
    target = pidfd = -1
    try:
        wait_for_samples(rec, proc)
        target = _child_of(proc.pid)
        pidfd = os.pidfd_open(target)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)  # not communicate(): an orphaned target would hold the pipes open
        assert _exits_within(pidfd, 2.0), f"the profiled command (pid {target}) outlived stax"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
        if pidfd >= 0:
            if not _exits_within(pidfd, 0):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            os.close(pidfd)
    top = stax("top", str(rec))
    assert "spin_here" in top.stdout or "spin_forever+0x" in top.stdout
    assert top.stderr.startswith(NOTICE) and top.stderr.count("\n") == 1
    assert re.search(r"the samples up to \d+\.\d\d s into the recording are shown", top.stderr)
    as_json = json.loads(stax("top", str(rec), "--json").stdout)
    assert as_json["samples"] > 0 and as_json["incomplete"].startswith(NOTICE.removeprefix("stax: "))
    for argv in (("collapse",), ("threads",), ("flamegraph", "-o", str(tmp_path / "k.svg"))):
        assert NOTICE in stax(argv[0], str(rec), *argv[1:]).stderr


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB filesystem (tmpfs), unmounted afterwards."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_full_disk_is_one_sentence_and_keeps_the_samples(spinner_bin: Path, small_disk: Path) -> None:
    rec = small_disk / "rec.stax"
    proc = subprocess.run([STAX, "record", "-o", str(rec), "--", str(spinner_bin)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    kept = re.fullmatch(
        rf"stax: The disk is full: {re.escape(str(rec))} keeps the first (\d+\.\d\d) s \(([\d,]+) samples\),"
        rf" readable as an incomplete recording with `stax top {re.escape(str(rec))}`; free some space or"
        r" record to another disk with -o\.\n", proc.stderr)
    assert kept, proc.stderr
    samples = int(kept.group(2).replace(",", ""))
    assert samples > 0
    # the profiled program did not outlive the recording
    assert subprocess.run(["pgrep", "-f", str(spinner_bin)], capture_output=True).stdout == b""
    top = stax("top", str(rec), "--json")
    assert json.loads(top.stdout)["samples"] == samples  # exactly what the sentence said
    text = stax("top", str(rec))
    assert text.stderr.startswith(NOTICE)
    assert f"# samples: {samples:,} " in text.stdout


def test_sigterm_is_named_in_the_summary(spinner_bin: Path, tmp_path: Path) -> None:
    rec = tmp_path / "term.stax"
    proc = _start_recording(rec, str(spinner_bin))
    try:
        wait_for_samples(rec, proc)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "(stopped by SIGTERM)" in stderr and "Ctrl-C" not in stderr
    assert stax("top", str(rec)).stderr == ""  # finished: not incomplete


@pytest.fixture(scope="module")
def qsort_split(bin_dir: Path) -> Path:
    source = REPO / "tests/backend_linux/dwarf_callgraph/workloads/qsort_split.c"
    return compile_c(source, bin_dir / "qsort_split", "-O2", "-fomit-frame-pointer")


def test_dwarf_duration_is_the_capture_time(qsort_split: Path, tmp_path: Path) -> None:
    """``-d 2`` with DWARF unwinding after the capture: the duration is still ~2 s."""
    rec = tmp_path / "dwarf.stax"
    proc = stax("record", "-F", "4000", "--no-off-cpu", "--call-graph", "dwarf", "-d", "2", "-o", str(rec),
                "--", str(qsort_split), "100")
    summary = re.search(r"recorded [\d,]+ samples in (\d+\.\d\d) s", proc.stderr)
    assert summary, proc.stderr
    reported = json.loads(stax("top", str(rec), "--json").stdout)["duration_s"]
    recording = Recording.open(rec)
    try:
        meta = recording.meta()
    finally:
        recording.close()
    for duration in (float(summary.group(1)), reported, meta["duration_s"]):
        assert abs(duration - 2.0) < 0.3, (duration, meta.get("backend.post_capture_s"))
    assert meta["backend.post_capture_s"] > 0  # the unwinding happened, after the capture
