"""What is passed as a recording is named for what it is, and read as the file it names.

A directory, a FIFO, a device or an unreadable file gets one sentence saying so (not
"does not exist"), without blocking on the FIFO or reading ``/dev/zero``; a name with
``%``, ``?`` or ``#`` is the file of that name, never a URI escape for another one.
The real ``stax`` command runs each case with a timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import STAX
from tests.render.synthetic_recording import write_recording

TIMEOUT_S = 20


def stax(*args: str, user: int | None = None) -> subprocess.CompletedProcess:
    prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user else []
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent",
           "STAX_CACHE_DIR": os.environ.get("STAX_CACHE_DIR", "/nonexistent"),
           **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
    return subprocess.run([*prefix, STAX, *args], capture_output=True, text=True, env=env,
                          timeout=TIMEOUT_S)


def one_sentence(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_a_directory_is_named_as_one(tmp_path: Path) -> None:
    line = one_sentence(stax("top", str(tmp_path)))
    assert line == (f"stax: {tmp_path} is a directory, not a recording file; pass the .stax file"
                    " written by `stax record`.")


def test_a_fifo_is_named_as_one_and_never_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "rec.stax"
    os.mkfifo(fifo)
    for view in (["top"], ["threads"], ["flamegraph", "-o", str(tmp_path / "o.svg")]):
        line = one_sentence(stax(view[0], str(fifo), *view[1:]))  # a blocking open would time out
        assert line.endswith(f"{fifo} is a FIFO, not a recording file; pass the .stax file written"
                             " by `stax record`."), line


def test_a_symlink_to_a_fifo_is_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "rec.stax").symlink_to(tmp_path / "fifo")
    assert "is a FIFO, not a recording file" in one_sentence(stax("top", str(tmp_path / "rec.stax")))


def test_dev_zero_is_a_device() -> None:
    line = one_sentence(stax("collapse", "/dev/zero"))
    assert line.startswith("stax: /dev/zero is a device, not a recording file"), line


def test_an_unreadable_file_says_so(world_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to uid 65534")
    rec = write_recording(world_dir / "private.stax", [("main;work", 10)])
    os.chmod(rec, 0o600)
    line = one_sentence(stax("top", str(rec), user=65534))
    assert line == (f"stax: Cannot read {rec} (Permission denied); pass a recording you can read."), line


@pytest.mark.parametrize("name", ["a%20b.stax", "100%.stax", "q?mode=rw.stax", "h#frag.stax"])
def test_uri_characters_in_a_name_are_that_file(tmp_path: Path, name: str) -> None:
    """``%20`` is not a space: with ``a b.stax`` next to it, stax must read ``a%20b.stax``."""
    write_recording(tmp_path / "a b.stax", [("main;the_wrong_file", 10)])
    rec = write_recording(tmp_path / name, [("main;the_named_file", 10)])
    proc = stax("top", str(rec), "--json")
    assert proc.returncode == 0, proc.stderr
    functions = {f["function"] for f in json.loads(proc.stdout)["functions"]}
    assert "the_named_file" in functions and "the_wrong_file" not in functions


def test_a_relative_name_with_a_percent(tmp_path: Path) -> None:
    write_recording(tmp_path / "a%20b.stax", [("main;relative", 10)])
    proc = subprocess.run([STAX, "top", "a%20b.stax", "--json"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    assert "relative" in {f["function"] for f in json.loads(proc.stdout)["functions"]}
