"""Real perf.data files: the tests compile a workload and record it with the real ``perf record``.

perf (Debian linux-perf) must be installed; tracepoint recordings need root and a
mounted tracefs (mounted here when missing, as ``stax record`` does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from stax_binfmt import tracefs
from tests.conftest import REPO, compile_c

OFFCPU_WORKLOADS = REPO / "tests" / "backend_linux" / "off_cpu" / "workloads"


def perf(*args: str, timeout: float = 120, stdin: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real perf; a failure is the test's failure, with perf's stderr.

    ``stdin``: a pipe-mode file fed as ``-i -`` (perf 6.1's ``perf script -i FILE`` of a
    pipe-mode file with tracepoints fails an assertion in util/build-id.c).
    """
    exe = shutil.which("perf")
    assert exe, "perf is required (apt-get install linux-perf)"
    with stdin.open("rb") if stdin is not None else open(os.devnull, "rb") as source:
        proc = subprocess.run([exe, *args], stdin=source, capture_output=True, timeout=timeout)
    proc = subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    )
    assert proc.returncode == 0, f"perf {' '.join(args)} failed:\n{proc.stderr}"
    return proc


def perf_record(out: Path, *args: str, pipe: bool = False) -> Path:
    """``perf record -q -o OUT ARGS...``: the file perf wrote (``pipe``: ``-o -`` into OUT)."""
    if os.geteuid() == 0:
        tracefs.ensure_mounted()
    if not pipe:
        perf("record", "-q", "-o", str(out), *args)
        return out
    with out.open("wb") as f:
        proc = subprocess.run(
            [shutil.which("perf") or "perf", "record", "-q", "-o", "-", *args],
            stdout=f,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="session")
def perf_workloads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("perf-workloads")
    flags = ("-O1", "-g", "-fno-omit-frame-pointer", "-pthread")
    return {
        "hotspots": compile_c(REPO / "examples" / "hotspots.c", out / "hotspots", *flags),
        "mutex": compile_c(OFFCPU_WORKLOADS / "capture_mutex.c", out / "mutex", *flags),
    }


needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: -a and tracepoints (perf_event_paranoid 2)"
)
