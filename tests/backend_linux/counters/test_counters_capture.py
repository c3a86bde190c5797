"""`stax record --counters` on this host, and the counter-group plumbing with software stand-ins.

This VM has no hardware PMU (perf_event_open of PERF_COUNT_HW_CPU_CYCLES fails with
ENOENT), so the real group cannot be opened here: the CLI tests check that recording
goes on without counters and says so in one sentence.  The plumbing (per-CPU groups
with inherit + inherit_stat redirected into the sampling rings, PERF_RECORD_READ of
exiting threads, the final read(), per-thread attribution) is exercised in a test-only
mode: ``stax_binfmt.perf_counters.COUNTER_GROUP`` is monkeypatched to four *software* counters
(task-clock, context-switches, page-faults, cpu-migrations) standing in for cycles,
instructions, L1-D misses and branch misses, and the host facts claim a PMU.  Their
task-clock per thread is checked against the workload's known 1:2:3 split of work.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from stax.contracts import RecordRequest
from stax.events import CounterValues, Event
from stax.recording.sample_sql import connect
from stax_backend_linux.capture.capture_session import CaptureSession
from stax_backend_linux.host_capabilities import probe_host
from stax_binfmt import perf_counters

WORKLOADS = Path(__file__).parent / "workloads"
STAX = str(Path(sys.executable).parent / "stax")
NO_PMU = not probe_host().has_pmu
STAND_INS = (
    perf_counters.CounterSpec("task-clock", "task-clock", 1, 1),
    perf_counters.CounterSpec("context-switches", "context-switches", 1, 3),
    perf_counters.CounterSpec("page-faults", "page-faults", 1, 2),
    perf_counters.CounterSpec("cpu-migrations", "cpu-migrations", 1, 4),
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux capture backend")


@pytest.fixture(scope="module")
def three_workers() -> Iterator[Path]:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the workload")
    out = Path(tempfile.mkdtemp(prefix="stax-counters-"))
    out.chmod(0o755)
    exe = out / "three_workers"
    subprocess.run(["gcc", "-O1", "-pthread", "-o", str(exe), str(WORKLOADS / "three_workers.c")], check=True)
    yield exe
    shutil.rmtree(out, ignore_errors=True)


# -- this host: no PMU ----------------------------------------------------------------------------

@pytest.mark.skipif(not NO_PMU, reason="this host has a hardware PMU")
def test_record_counters_without_pmu_records_on_and_says_why(three_workers: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.stax"
    env = {**os.environ, "STAXD_SOCKET": str(tmp_path / "no-staxd.sock")}
    proc = subprocess.run([STAX, "record", "--counters", "-o", str(out), "--", str(three_workers), "2000000"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    pmu_lines = [line for line in proc.stderr.splitlines() if "hardware PMU" in line]
    assert pmu_lines == ["stax: No hardware PMU on this host (perf_event_open for the cycles counter fails "
                         "with ENOENT), so hardware counters were not recorded; run on bare metal or enable "
                         "the hypervisor's virtual PMU."]
    db = connect(out)
    try:
        assert db.execute("SELECT count(*) FROM counter_values").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM samples").fetchone()[0] > 0
        meta = dict(db.execute("SELECT key, value FROM meta"))
    finally:
        db.close()
    assert json.loads(meta["backend.counters"]) is False
    assert "counters" not in json.loads(meta["backend.event_sets"])


@pytest.mark.skipif(not NO_PMU, reason="this host has a hardware PMU")
def test_doctor_says_there_is_no_pmu(tmp_path: Path) -> None:
    env = {**os.environ, "STAXD_SOCKET": str(tmp_path / "no-staxd.sock")}
    proc = subprocess.run([STAX, "doctor", "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = {row["capability"]: row for row in json.loads(proc.stdout)["rows"]}
    row = rows["PMU / hardware counters"]
    assert row["status"] == "unavailable"
    assert row["reason"].startswith("no hardware PMU on this host (perf_event_open for the cycles counter "
                                    "fails with ENOENT)")
    assert rows["hardware PMU present"]["status"] == "unavailable"


# -- the plumbing, with software counters standing in (test-only) --------------------------------

class _Counters:
    def __init__(self) -> None:
        self.values: list[CounterValues] = []

    def consume(self, batch: list[Event]) -> None:
        self.values += [e for e in batch if type(e) is CounterValues]


def _record_with_stand_ins(exe: Path, monkeypatch: pytest.MonkeyPatch, facts: object, off_cpu: bool,
                           ) -> tuple[dict[int, dict[str, int]], dict[str, object]]:
    monkeypatch.setattr(perf_counters, "COUNTER_GROUP", STAND_INS)
    sink = _Counters()
    session = CaptureSession(RecordRequest(command=(str(exe),), counters=True, off_cpu=off_cpu), facts)  # type: ignore[arg-type]
    summary = session.run(sink, lambda progress: None, lambda: False)
    assert summary.target_exit_code == 0
    by_tid = {cv.tid: cv.values for cv in sink.values}
    assert len(sink.values) == len(by_tid)  # one CounterValues per thread
    return by_tid, summary.metadata


def _check_split(by_tid: dict[int, dict[str, int]]) -> None:
    """main + three workers doing 1, 2 and 3 units of work: task-clock (CPU ns) in that ratio."""
    assert len(by_tid) == 4, by_tid
    main = min(by_tid)
    workers = sorted((v["task-clock"] for tid, v in by_tid.items() if tid != main))
    one = workers[0]
    assert one > 5_000_000, by_tid  # 20 M iterations: tens of ms
    assert workers[1] / one == pytest.approx(2, rel=0.25), workers
    assert workers[2] / one == pytest.approx(3, rel=0.25), workers
    assert by_tid[main]["task-clock"] / one == pytest.approx(1, rel=0.35), by_tid
    assert all(set(v) == {s.key for s in STAND_INS} for v in by_tid.values())
    assert all(v["context-switches"] >= 1 for tid, v in by_tid.items() if tid != main)  # each slept 1 ms


@pytest.mark.skipif(os.geteuid() != 0, reason="the stand-in group counts kernel mode in-process: root")
@pytest.mark.parametrize("off_cpu", [True, False])
def test_stand_in_group_in_process_splits_counts_per_thread(
        three_workers: Path, monkeypatch: pytest.MonkeyPatch, off_cpu: bool) -> None:
    facts = attrs.evolve(probe_host(), pmu_errno=0)
    by_tid, meta = _record_with_stand_ins(three_workers, monkeypatch, facts, off_cpu)
    _check_split(by_tid)
    assert meta["event_sets"]["counters"] == "in-process"  # type: ignore[index]
    assert meta["counters"] is True and meta["counter_reads"] >= 3


@pytest.mark.skipif(os.geteuid() != 0, reason="runs staxd (root) in this process")
def test_stand_in_group_through_staxd(three_workers: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real staxd (its Daemon class, in a thread of this process so it sees the stand-ins) grants
    the sampler and the counter groups to a session that believes kernel mode is not allowed."""
    from staxd_linux.daemon import Daemon
    from staxd_linux.policy import parse_policy

    directory = Path(tempfile.mkdtemp(prefix="stax-counters-staxd-"))
    try:
        daemon = Daemon(directory / "staxd.sock", parse_policy('socket_group = "root"\n', "test policy"))
        daemon.bind()
        server = threading.Thread(target=daemon.serve_forever, daemon=True)
        server.start()
        monkeypatch.setenv("STAXD_SOCKET", str(directory / "staxd.sock"))
        facts = attrs.evolve(probe_host(), pmu_errno=0, paranoid=2, perfmon_capable=False)
        try:
            by_tid, meta = _record_with_stand_ins(three_workers, monkeypatch, facts, off_cpu=False)
        finally:
            daemon.stop()
            server.join(5)
        _check_split(by_tid)
        assert meta["event_sets"] == {"sampling": "staxd", "counters": "staxd"}
        assert meta["kernel_stacks"] is True
    finally:
        shutil.rmtree(directory, ignore_errors=True)
