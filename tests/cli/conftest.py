"""Fixtures for end-to-end tests: the real `stax` executable and compiled workloads."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compile_c

WORKLOADS = Path(__file__).resolve().parent / "workloads"
REPO = Path(__file__).resolve().parents[2]
STAX = str(Path(sys.executable).parent / "stax")


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
