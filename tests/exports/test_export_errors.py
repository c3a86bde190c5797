"""Bad input to ``stax export``: one sentence naming the problem and the fix, non-zero exit, no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.exports.conftest import STAX, stax

FORMATS = ("pprof", "speedscope", "firefox", "folded")


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_directory(export_rec: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "no-such-dir" / "out"
    proc = stax("export", str(export_rec), "--format", fmt, "-o", str(out), check=False)
    assert proc.returncode == 1
    assert proc.stderr == f"stax: Cannot write {out} (No such file or directory); choose another -o path.\n"
    assert not out.parent.exists()


@pytest.mark.parametrize("fmt", ["pprof", "firefox"])
def test_full_device(export_rec: Path, fmt: str) -> None:
    proc = stax("export", str(export_rec), "--format", fmt, "-o", "/dev/full", check=False)
    assert proc.returncode == 1
    assert proc.stderr == "stax: Cannot write /dev/full (No space left on device); choose another -o path.\n"


@pytest.fixture
def shared_rec(export_rec: Path) -> Iterator[tuple[Path, Path]]:
    """(a copy of the recording any user can read, a directory only root can write)."""
    work = Path(tempfile.mkdtemp(prefix="stax-export-errors-"))
    os.chmod(work, 0o755)
    rec = work / "export.stax"
    shutil.copy(export_rec, rec)
    os.chmod(rec, 0o644)
    locked = work / "root-only"
    locked.mkdir(mode=0o755)
    yield rec, locked
    shutil.rmtree(work, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to run stax as another user")
def test_directory_another_user_cannot_write(shared_rec: tuple[Path, Path]) -> None:
    rec, locked = shared_rec
    out = locked / "out.pb.gz"
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", STAX, "export",
                           str(rec), "--format", "pprof", "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == f"stax: Cannot write {out} (Permission denied); choose another -o path.\n"
    assert list(locked.iterdir()) == []


@pytest.mark.skipif(shutil.which("script") is None, reason="needs script (util-linux) for a terminal")
def test_pprof_is_not_written_to_a_terminal(export_rec: Path) -> None:
    proc = subprocess.run(["script", "-qec", f"{STAX} export {export_rec} --format pprof", "/dev/null"],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1
    assert proc.stdout.strip() == "stax: pprof output is binary; write it to a file with -o FILE."


def test_pprof_to_a_pipe_is_the_file(export_rec: Path, tmp_path: Path) -> None:
    piped = subprocess.run([STAX, "export", str(export_rec), "--format", "pprof"], capture_output=True,
                           timeout=120, check=True).stdout
    stax("export", str(export_rec), "--format", "pprof", "-o", str(tmp_path / "x.pb.gz"))
    assert piped == (tmp_path / "x.pb.gz").read_bytes()


def test_unknown_format(export_rec: Path) -> None:
    proc = stax("export", str(export_rec), "--format", "perfetto", "-o", "/dev/null", check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("stax: No renderer named 'perfetto' is installed (installed: ")
    assert "firefox" in proc.stderr and "pprof" in proc.stderr and proc.stderr.count("\n") == 1


def test_annotate_is_for_folded(export_rec: Path) -> None:
    proc = stax("export", str(export_rec), "--format", "pprof", "--annotate", "-o", "/dev/null", check=False)
    assert proc.returncode != 0
    assert proc.stderr == ("stax: --annotate adds the suffixes of folded stacks; use it with --format"
                           " folded.\n")


@pytest.mark.parametrize("fmt", ["pprof", "firefox"])
def test_selection_matching_nothing(export_rec: Path, fmt: str) -> None:
    proc = stax("export", str(export_rec), "--format", fmt, "--tid", "9999", "-o", "/dev/null", check=False)
    assert proc.returncode == 1
    assert proc.stderr == (f"stax: No samples or off-CPU spans in {export_rec} match --tid 9999; run"
                           f" `stax threads {export_rec}` to see which threads were recorded.\n")


def test_not_a_recording(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.stax"
    bogus.write_bytes(b"not sqlite at all" * 100)
    proc = stax("export", str(bogus), "--format", "speedscope", "-o", str(tmp_path / "x.json"), check=False)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and str(bogus) in proc.stderr
    assert not (tmp_path / "x.json").exists()
