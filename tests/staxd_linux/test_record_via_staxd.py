"""`stax record` as uid 65534 at perf_event_paranoid 2: with staxd it gets kernel frames and
wakeups, without it neither, and one sentence says what was lost and how to get it.

The daemon is the session's real staxd (conftest: root, a temporary socket and policy
that admits group nogroup).  The client is the real CLI under ``setpriv`` with
STAXD_SOCKET pointing at that socket, or at a path where nothing listens.  The
workload (workloads/pipe_sleeper.c) spends kernel time reading /dev/zero and its main
thread is woken through a pipe by its other thread 200 times.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from stax.recording import sample_sql
from tests.staxd_linux.conftest import NOBODY, NOGROUP, StaxdProcess

WORKLOAD = Path(__file__).parent / "workloads" / "pipe_sleeper.c"
STAX = str(Path(sys.executable).parent / "stax")
PARANOID = int(Path("/proc/sys/kernel/perf_event_paranoid").read_text())

pytestmark = [
    pytest.mark.skipif(PARANOID < 2, reason="needs kernel.perf_event_paranoid >= 2 (else users get it all)"),
    pytest.mark.skipif(shutil.which("setpriv") is None or shutil.which("gcc") is None,
                       reason="needs setpriv and gcc"),
]

KERNEL_SAMPLES = """
WITH RECURSIVE walk(total, node) AS (
    SELECT rowid, stack_id FROM sample_totals WHERE stack_id >= 0
    UNION ALL
    SELECT walk.total, stacks.parent_id FROM walk JOIN stacks ON stacks.id = walk.node
    WHERE stacks.parent_id >= 0
)
SELECT coalesce(sum(count), 0) FROM sample_totals WHERE rowid IN (SELECT walk.total FROM walk
JOIN stacks ON stacks.id = walk.node JOIN frames ON frames.id = stacks.frame_id
WHERE frames.is_kernel = 1)
"""


@pytest.fixture(scope="module")
def dirs() -> Iterator[tuple[Path, Path]]:
    """(the built workload, an output directory): outside pytest's 0700 tmp root, open to uid 65534."""
    bin_dir = Path(tempfile.mkdtemp(prefix="stax-via-staxd-bin-"))
    out_dir = Path(tempfile.mkdtemp(prefix="stax-via-staxd-out-"))
    bin_dir.chmod(0o755)
    out_dir.chmod(0o1777)
    exe = bin_dir / "pipe_sleeper"
    subprocess.run(["gcc", "-O1", "-g", "-fno-omit-frame-pointer", "-pthread", "-o", str(exe), str(WORKLOAD)],
                   check=True)
    yield exe, out_dir
    shutil.rmtree(bin_dir, ignore_errors=True)
    shutil.rmtree(out_dir, ignore_errors=True)


def record_as_nobody(exe: Path, out: Path, socket: Path) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "STAXD_SOCKET": str(socket),
           "STAX_CACHE_DIR": str(out.parent / (out.stem + "-cache"))}
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOGROUP}", "--clear-groups"]
    proc = subprocess.run([*drop, STAX, "record", "-o", str(out), "--", str(exe)], capture_output=True,
                          text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def contents(path: Path) -> dict[str, object]:
    db = sample_sql.connect(path)  # the wakeups view decodes blocks through it
    try:
        meta = {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}
        return {
            "samples": db.execute("SELECT coalesce(sum(count), 0) FROM sample_blocks").fetchone()[0],
            "kernel_samples": db.execute(KERNEL_SAMPLES).fetchone()[0],
            "wakeups": db.execute("SELECT count(*) FROM wakeups").fetchone()[0],
            "meta": meta,
        }
    finally:
        db.close()


def loss_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "are missing because" in line]


def test_record_through_staxd_has_kernel_frames_and_wakeups(staxd: StaxdProcess,
                                                            dirs: tuple[Path, Path]) -> None:
    exe, out_dir = dirs
    proc = record_as_nobody(exe, out_dir / "via.stax", staxd.socket)
    got = contents(out_dir / "via.stax")
    meta = got["meta"]
    assert isinstance(meta, dict)
    assert meta["backend.event_sets"] == {"sampling": "staxd", "context_switch": "staxd",
                                          "sched_waking": "staxd"}
    assert meta["backend.kernel_stacks"] is True
    # ~0.5 s of CPU, a fifth of it reading /dev/zero: hundreds of samples, dozens in the kernel
    assert got["samples"] >= 100, got  # type: ignore[operator]
    assert got["kernel_samples"] >= 10, got  # type: ignore[operator]
    # 200 pipe wakeups of the main thread by the writer thread (an idle CPU may hide some)
    assert got["wakeups"] >= 20, got  # type: ignore[operator]
    assert meta["backend.wakeups_captured"] is True
    assert loss_lines(proc.stderr) == []
    assert "kind=sampling" in staxd.log() and "kind=sched_waking" in staxd.log()


def test_record_without_staxd_has_neither_and_says_why_once(dirs: tuple[Path, Path]) -> None:
    exe, out_dir = dirs
    proc = record_as_nobody(exe, out_dir / "without.stax", out_dir / "no-staxd-here.sock")
    got = contents(out_dir / "without.stax")
    meta = got["meta"]
    assert isinstance(meta, dict)
    assert meta["backend.event_sets"] == {"sampling": "in-process", "context_switch": "in-process"}
    assert got["samples"] >= 100, got  # type: ignore[operator]
    assert got["kernel_samples"] == 0
    assert got["wakeups"] == 0
    (line,) = loss_lines(proc.stderr)
    assert line == (f"stax: Kernel frames, off-CPU stacks and wakeups are missing because "
                    f"kernel.perf_event_paranoid is {PARANOID}, the sched_waking tracepoint needs root and "
                    f"staxd is not running; to record them, install staxd once with 'sudo stax setup' and "
                    f"join group 'stax', or run 'sudo sysctl kernel.perf_event_paranoid=1' "
                    f"(all but wakeups).")
    notes = meta["notes"]
    assert isinstance(notes, list)
    assert [n for n in notes if "are missing because" in n] == [line.removeprefix("stax: ")]


def test_dwarf_recording_through_staxd_has_the_backends_dump_layout(staxd: StaxdProcess,
                                                                    dirs: tuple[Path, Path]) -> None:
    """staxd builds the DWARF dump with the backend's DwarfSampling, so the grant is used as is."""
    exe, out_dir = dirs
    out = out_dir / "dwarf.stax"
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "STAXD_SOCKET": str(staxd.socket),
           "STAX_CACHE_DIR": str(out_dir / "dwarf-cache")}
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOGROUP}", "--clear-groups"]
    argv = [STAX, "record", "--call-graph", "dwarf", "--no-off-cpu", "-o", str(out), "--", str(exe)]
    proc = subprocess.run([*drop, *argv], capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr
    got = contents(out)
    meta = got["meta"]
    assert isinstance(meta, dict)
    assert meta["backend.event_sets"] == {"sampling": "staxd"}
    assert got["kernel_samples"] >= 10, got  # type: ignore[operator]
    assert loss_lines(proc.stderr) == []


def test_default_recording_through_staxd_repairs_stacks_with_the_hybrid_dump(staxd: StaxdProcess,
                                                                             dirs: tuple[Path, Path]) -> None:
    """--call-graph fp (the default) asks staxd for the hybrid dump on samples and switch-outs; the
    pipe reads and sleeps go through glibc wrappers without frame pointers, so stacks get repaired."""
    exe, out_dir = dirs
    proc = record_as_nobody(exe, out_dir / "hybrid.stax", staxd.socket)
    meta = contents(out_dir / "hybrid.stax")["meta"]
    assert isinstance(meta, dict)
    assert meta["call_graph"] == "fp"
    assert meta["backend.event_sets"]["sampling"] == "staxd"  # type: ignore[index]
    assert meta["backend.event_sets"]["context_switch"] == "staxd"  # type: ignore[index]
    assert meta["backend.dwarf_regs_mask"] == 0x1C0  # ip, sp, bp
    assert meta["backend.dwarf_stack_size"] == 512
    assert meta["backend.hybrid_repaired"] > 0, meta  # type: ignore[operator]
    assert "stacks repaired" in proc.stderr
    log = staxd.log()
    assert "kind=sampling" in log and "kind=context_switch" in log
    assert "call_graph=hybrid" in log


def test_system_wide_stack_copies_need_allow_other_users() -> None:
    """A register and stack copy taken system-wide holds other users' raw stack memory: a policy that
    allows system-wide recording but not other users' processes grants frame pointers only."""
    from tests.staxd_linux.conftest import TEST_POLICY, as_nobody

    directory = Path(tempfile.mkdtemp(prefix="staxd-system-wide-"))
    directory.chmod(0o755)
    daemon = StaxdProcess(directory, TEST_POLICY + "allow_system_wide = true\n")
    try:
        for call_graph in ("hybrid", "dwarf"):
            out = as_nobody("request", daemon.socket, json.dumps(
                {"kind": "sampling", "system_wide": True, "call_graph": call_graph, "dwarf_stack_size": 512}))
            assert out == {"ok": False, "type": "StaxdRefused",
                           "error": f"staxd refused: Copying other users' stacks (a system-wide call-graph "
                                    f"dump) is not allowed by staxd's policy (allow_other_users = false in "
                                    f"{daemon.policy})."}
        out = as_nobody("request", daemon.socket, json.dumps({"kind": "sampling", "system_wide": True}))
        assert out["ok"] is True and out["fds"] == os.cpu_count()
        # so `stax record -a` (default --call-graph fp) records frame-pointer stacks and says why
        env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "STAXD_SOCKET": str(daemon.socket),
               "STAX_CACHE_DIR": str(directory / "cache")}
        out_file = directory / "all.stax"
        directory.chmod(0o1777)
        drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOGROUP}", "--clear-groups"]
        proc = subprocess.run([*drop, STAX, "record", "-a", "-d", "0.5", "--no-off-cpu", "--no-symbolicate",
                               "-o", str(out_file)], capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert ("stax: Stacks are the kernel's frame-pointer walks (--call-graph fp-only) because staxd "
                "copies other users' stacks only with allow_other_users = true in its policy") in proc.stderr
        meta = contents(out_file)["meta"]
        assert meta["backend.event_sets"] == {"sampling": "staxd"}  # type: ignore[index]
        assert "backend.hybrid_stacks" not in meta  # type: ignore[operator]
    finally:
        daemon.stop()
        shutil.rmtree(directory, ignore_errors=True)
