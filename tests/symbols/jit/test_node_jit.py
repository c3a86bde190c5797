"""Real JIT code: node running a recursive fib, recorded by `stax record`, named from jitdump
and from the perf map.

node --perf-prof writes ./jit-PID.dump and mmaps it (so the recording sees the mapping);
node --perf-basic-prof writes /tmp/perf-PID.map.  Each run happens in its own directory and
removes the /tmp/perf-PID.map files it caused.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stax.recording.sample_sql import connect

FIB_JS = Path(__file__).resolve().parents[1] / "workloads" / "fib.js"
STAX = str(Path(sys.executable).parent / "stax")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for perf_event_open"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="perf maps and jitdump are Linux"),
]


@pytest.fixture(scope="module")
def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.skip("node is not installed")
    return path


def _stax(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([STAX, *args], capture_output=True, text=True, timeout=90, cwd=cwd)
    assert proc.returncode == 0, f"stax {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
    return proc


def _pids(recording: Path) -> list[int]:
    with sqlite3.connect(recording) as db:
        return [pid for (pid,) in db.execute("SELECT pid FROM processes")]


def _fib_share(recording: Path) -> float:
    """The fraction of samples with a frame named after fib anywhere on the stack (from the schema)."""
    db = connect(recording)  # the samples view decodes blocks through stax's SQL function
    try:
        fib_frames = {i for (i,) in db.execute("SELECT id FROM frames WHERE function LIKE '%fib%'")}
        stacks = dict(((i, (p, f)) for i, p, f in db.execute("SELECT id, parent_id, frame_id FROM stacks")))
        counts = db.execute("SELECT stack_id, count(*) FROM samples GROUP BY stack_id").fetchall()
    finally:
        db.close()
    memo: dict[int, bool] = {-1: False}

    def has_fib(stack: int) -> bool:
        path = []
        while stack not in memo:
            path.append(stack)
            stack = stacks[stack][0]
        answer = memo[stack]
        for s in reversed(path):
            answer = answer or stacks[s][1] in fib_frames
            memo[s] = answer
        return memo[path[0]] if path else answer

    total = sum(c for _, c in counts)
    return sum(c for s, c in counts if has_fib(s)) / total


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    for recording in tmp_path.glob("*.stax"):
        for pid in _pids(recording):
            Path(f"/tmp/perf-{pid}.map").unlink(missing_ok=True)


def _record(node: str, run_dir: Path, *node_flags: str, seconds: str = "2") -> tuple[Path, str, dict]:
    recording = run_dir / "node.stax"
    shutil.copy(FIB_JS, run_dir / "fib.js")
    proc = _stax("record", "-o", str(recording), "--", node, *node_flags, "fib.js", seconds, cwd=run_dir)
    top = json.loads(_stax("top", str(recording), "--json", "-n", "20", cwd=run_dir).stdout)
    return recording, proc.stderr, top


def _assert_fib_is_hot(recording: Path, top: dict) -> float:
    user = [f for f in top["functions"] if not f["is_kernel"]]
    hottest = user[0]
    assert "fib" in hottest["function"], [f["function"] for f in user[:5]]
    assert hottest["image"] == "anon"  # a JIT frame, named by a JIT source
    assert hottest["self_percent"] >= 30, hottest
    share = _fib_share(recording)
    assert share >= 0.5, f"only {share:.0%} of samples have a fib frame"
    return share


def test_jitdump_names_fib_with_its_source_line(node: str, run_dir: Path) -> None:
    recording, stderr, top = _record(node, run_dir, "--perf-prof")
    dumps = list(run_dir.glob("jit-*.dump"))
    assert len(dumps) == 1
    assert "found by name" not in stderr  # the dump came from the recorded mmap
    _assert_fib_is_hot(recording, top)
    with sqlite3.connect(recording) as db:
        located = db.execute(
            "SELECT DISTINCT file, line FROM frames WHERE function LIKE 'JS:%fib %'").fetchall()
    assert located and all(file == str(run_dir / "fib.js") for file, _ in located), located
    assert {line for _, line in located} <= {4, 5}  # `function fib(n) {` / its return line


def test_perf_map_names_fib(node: str, run_dir: Path) -> None:
    recording, _, top = _record(node, run_dir, "--perf-basic-prof")
    assert not list(run_dir.glob("jit-*.dump"))
    _assert_fib_is_hot(recording, top)
    with sqlite3.connect(recording) as db:
        lines = db.execute("SELECT DISTINCT line FROM frames WHERE function LIKE 'JS:%fib %'").fetchall()
    assert lines == [(None,)]  # a perf map has names only


def test_without_jit_support_frames_stay_unnamed_with_the_fix(node: str, run_dir: Path) -> None:
    recording, stderr, top = _record(node, run_dir, seconds="1")
    assert not any("fib" in f["function"] for f in top["functions"])
    assert "--perf-basic-prof" in stderr and "stay unnamed" in stderr
