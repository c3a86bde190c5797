"""Fixtures for end-to-end tests: the real `stax` executable and compiled workloads."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stax.errors import StaxError
from stax.recording.reader import Recording
from tests.conftest import compile_c

WORKLOADS = Path(__file__).resolve().parent / "workloads"
REPO = Path(__file__).resolve().parents[2]
STAX = str(Path(sys.executable).parent / "stax")


def wait_for_samples(rec: Path, proc: subprocess.Popen[str], at_least: int = 1,
                     timeout: float = 60.0) -> int:
    """Poll a recording being written until a commit holds ``at_least`` samples; return the count.

    ``stax record`` commits about once a second, so a reader sees samples only after a commit;
    the recorder exiting first is a failure, with its stderr.
    """
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        if rec.exists():
            try:
                recording = Recording.open(rec)
                try:
                    count = recording.sample_count()
                finally:
                    recording.close()
                if count >= at_least:
                    return count
            except StaxError:
                pass  # created but not yet through its first commit
        time.sleep(0.05)
    raise AssertionError(f"{count} samples in {rec} after {timeout} s, not {at_least}")


def stax(*args: str, check: bool = True, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """Run the real `stax` command; return the completed process (text mode)."""
    proc = subprocess.run([STAX, *args], capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"stax {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def bin_dir() -> Iterator[Path]:
    """Workloads live outside pytest's 0700 temp root so uid 65534 can run them too."""
    path = Path(tempfile.mkdtemp(prefix="stax-workloads-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A scratch directory any user can write (for recordings made as uid 65534)."""
    path = Path(tempfile.mkdtemp(prefix="stax-out-"))
    os.chmod(path, 0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def hotspots(bin_dir: Path) -> Path:
    return compile_c(REPO / "examples" / "hotspots.c", bin_dir / "hotspots",
                     "-O1", "-g", "-fno-omit-frame-pointer")


@pytest.fixture(scope="session")
def threads_bin(bin_dir: Path) -> Path:
    return compile_c(WORKLOADS / "threads.c", bin_dir / "threads",
                     "-O1", "-g", "-fno-omit-frame-pointer", "-pthread")


@pytest.fixture(scope="session")
def syscalls_bin(bin_dir: Path) -> Path:
    return compile_c(WORKLOADS / "syscalls.c", bin_dir / "syscalls",
                     "-O1", "-g", "-fno-omit-frame-pointer")


@pytest.fixture(scope="session")
def spinner_bin(bin_dir: Path) -> Path:
    return compile_c(WORKLOADS / "spin_forever.c", bin_dir / "spin_forever",
                     "-O1", "-g", "-fno-omit-frame-pointer")
