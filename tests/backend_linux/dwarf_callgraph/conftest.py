"""Fixtures for the DWARF call-graph tests: the -O2 -fomit-frame-pointer workload, recordings, chains.

The workload is built without frame pointers and spends its time in qsort comparators
called back from glibc's qsort internals (Debian's glibc has no frame pointers either),
so only CFI unwinding can get from a comparator to ``main``.  Recordings are made with
the real ``stax`` command and read back with :class:`stax.recording.reader.Recording`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from stax.recording.reader import Recording
from tests.conftest import compile_c

WORKLOADS = Path(__file__).resolve().parent / "workloads"
STAX = str(Path(sys.executable).parent / "stax")
COMPARATORS = ("compare_a", "compare_b")
SECONDS = "2"

if not sys.platform.startswith("linux"):
    pytest.skip("DWARF capture needs the Linux backend", allow_module_level=True)
if os.geteuid() != 0 and int(Path("/proc/sys/kernel/perf_event_paranoid").read_text()) > 2:
    pytest.skip("perf_event_open is not permitted here", allow_module_level=True)

Chain = tuple[str, ...]
"""User function names of one stack, leaf first ("[truncated]" last when marked)."""


def stax(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run([STAX, *args], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"stax {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def user_chains(path: Path) -> Counter[Chain]:
    """Sample count per chain of user-frame function names (leaf first), kernel frames dropped.

    Inlined functions are not expanded: each chain entry is one real frame, as in
    ``perf script --no-inline``.
    """
    recording = Recording.open(path)
    try:
        labels = recording.frame_labels()
        parents, frames = recording.stack_arrays()
        counts: Counter[Chain] = Counter()
        for stack_id, count, _weight in recording.stack_totals():
            names: list[str] = []
            while stack_id >= 0:
                label = labels[frames[stack_id]]
                if not label.is_kernel:
                    names.append(label.name)
                stack_id = parents[stack_id]
            counts[tuple(names)] += count
        return counts
    finally:
        recording.close()


def record(out: Path, *command: str, call_graph: str = "dwarf", quiet: bool = True) -> Path:
    record_with_summary(out, *command, call_graph=call_graph, quiet=quiet)
    return out


def record_with_summary(out: Path, *command: str, call_graph: str = "dwarf", quiet: bool = False) -> str:
    """Record; return what ``stax record`` printed on stderr (its notes and summary)."""
    quiet_flag = ("-q",) if quiet else ()
    return stax("record", *quiet_flag, "--no-off-cpu", "--call-graph", call_graph, "-o", str(out), "--",
                *command).stderr


@pytest.fixture(scope="session")
def work_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="stax-dwarf-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def qsort_split(work_dir: Path) -> Path:
    return compile_c(WORKLOADS / "qsort_split.c", work_dir / "qsort_split", "-O2", "-fomit-frame-pointer")


@pytest.fixture(scope="session")
def dwarf_recording(qsort_split: Path, work_dir: Path) -> Path:
    return record(work_dir / "dwarf.stax", str(qsort_split), SECONDS)


@pytest.fixture(scope="session")
def dwarf_chains(dwarf_recording: Path) -> Counter[Chain]:
    return user_chains(dwarf_recording)
