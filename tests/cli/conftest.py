"""Fixtures for end-to-end tests: the real `stax` executable and compiled workloads."""

from __future__ import annotations

import os
import subprocess
import sys
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
def bin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("workloads")
    os.chmod(path, 0o755)
    return path


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
