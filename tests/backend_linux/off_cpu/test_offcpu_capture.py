"""Off-CPU capture on Linux, end to end: the real `stax record` on C workloads, read back from the file.

Each workload in workloads/ is built with frame pointers (its interesting functions
are non-leaf, so they keep a frame) and recorded through the real CLI; the
recording is read with :class:`stax.recording.reader.Recording`, so the whole
pipeline is under test: context-switch records -> spans, switch-out stacks and
wait-site reasons, sched_waking -> wakeups and their link to the spans they ended.
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

from stax.recording.reader import Recording

WORKLOADS = Path(__file__).parent / "workloads"
STAX = str(Path(sys.executable).parent / "stax")
CFLAGS = ["-O1", "-g", "-fno-omit-frame-pointer", "-pthread"]
NOBODY = 65534

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux capture backend"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: kernel stacks, sched_waking, setpriv"),
]


# -- building, recording, reading ---------------------------------------------------------------

@pytest.fixture(scope="module")
def offcpu_bin() -> Iterator[dict[str, Path]]:
    """Every workloads/capture_*.c compiled into a directory uid 65534 can reach (not pytest's 0700 root)."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the workloads")
    out = Path(tempfile.mkdtemp(prefix="stax-offcpu-bin-"))
    out.chmod(0o755)
    built = {}
    for source in sorted(WORKLOADS.glob("capture_*.c")):
        name = source.stem.removeprefix("capture_")
        exe = out / name
        subprocess.run(["gcc", *CFLAGS, "-o", str(exe), str(source)], check=True)
        built[name] = exe
    yield built
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def offcpu_out() -> Iterator[Path]:
    """Recordings go here: world-writable and sticky, so uid 65534 can write its own."""
    out = Path(tempfile.mkdtemp(prefix="stax-offcpu-out-"))
    out.chmod(0o1777)
    yield out
    shutil.rmtree(out, ignore_errors=True)


def stax_record(out: Path, *command: str, as_nobody: bool = False, options: tuple[str, ...] = (),
                ) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent",
           "STAX_CACHE_DIR": str(out.parent / (out.stem + "-cache")),
           "STAXD_SOCKET": "/nonexistent/staxd.sock"}
    prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] if as_nobody else []
    proc = subprocess.run([*prefix, STAX, "record", "-q", *options, "-o", str(out), "--", *command],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


class Captured:
    """One recording's off-CPU tables, with stacks as function names (leaf first)."""

    def __init__(self, path: Path) -> None:
        rec = Recording.open(path)
        try:
            self.meta = rec.meta()
            self.spans = [dict(zip(("start", "end", "pid", "tid", "cpu", "reason", "wait_site", "stack",
                                    "wakeup"), row, strict=True)) for row in rec.off_cpu_spans()]
            self.wakeups = rec.wakeups()
            self.threads = rec.threads()
            self.parents, self.frames = rec.stack_arrays()
            self.labels = rec.frame_labels()
        finally:
            rec.close()

    def stack(self, stack_id: int) -> list[str]:
        names = []
        while stack_id >= 0:
            names.append(self.labels[self.frames[stack_id]].name)
            stack_id = self.parents[stack_id]
        return names

    def tids(self, name: str) -> list[int]:
        return [t.tid for t in self.threads if t.name == name]

    def of(self, tid: int, *, preempted: bool = False) -> list[dict]:
        return [s for s in self.spans if s["tid"] == tid and (s["reason"] == "preempted") == preempted]

    def waker(self, span: dict) -> tuple[int, list[str]] | None:
        """(waker tid, waker stack) of the wakeup linked to ``span``."""
        if span["wakeup"] is None:
            return None
        _time, _cpu, _pid, waker_tid, _wpid, _wtid, stack_id = self.wakeups[span["wakeup"]]
        return waker_tid, self.stack(stack_id)


def seconds(spans: list[dict]) -> float:
    return sum(s["end"] - s["start"] for s in spans) / 1e9


def record(bins: dict[str, Path], out_dir: Path, name: str, *args: str, as_nobody: bool = False,
           options: tuple[str, ...] = ()) -> Captured:
    out = out_dir / f"{name}{'-nobody' if as_nobody else ''}{''.join(options)}.stax"
    stax_record(out, str(bins[name]), *args, as_nobody=as_nobody, options=options)
    return Captured(out)


# -- the workloads ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nap(offcpu_bin: dict[str, Path], offcpu_out: Path) -> Captured:
    return record(offcpu_bin, offcpu_out, "nap")


def test_nap_is_one_second_of_sleep_in_nap_under_main(nap: Captured) -> None:
    (main,) = [t.tid for t in nap.threads if t.tid == t.pid and t.name == "nap"]
    blocked = nap.of(main)
    assert seconds(blocked) == pytest.approx(1.000, rel=0.02)
    naps = [s for s in blocked if s["end"] - s["start"] > 90_000_000]
    assert len(naps) == 10
    for span in naps:
        assert span["reason"] == "sleep"
        assert span["wait_site"] in ("do_nanosleep", "hrtimer_nanosleep")
        names = nap.stack(span["stack"])
        assert "nap" in names and names[names.index("nap") + 1] == "main", names
        assert "__schedule" in names or "schedule" in names  # the kernel part leads the stack
    assert nap.meta["backend.off_cpu_reason_source"] == "kernel stack"
    assert nap.meta["backend.wakeups_captured"] is True


@pytest.fixture(scope="module")
def pingpong(offcpu_bin: dict[str, Path], offcpu_out: Path) -> Captured:
    return record(offcpu_bin, offcpu_out, "pingpong", "200")


def test_pingpong_reader_waits_are_pipe_ipc_woken_by_the_writer(pingpong: Captured) -> None:
    (reader,) = pingpong.tids("pong")
    (writer,) = pingpong.tids("ping")
    waits = pingpong.of(reader)
    pipe = [s for s in waits if s["reason"] == "pipe-ipc"]
    assert len(pipe) >= 50, waits[:5]  # most of 200 reads block; a few find the byte already there
    assert len(pipe) >= 0.95 * len(waits)
    assert {s["wait_site"] for s in pipe} <= {"pipe_read", "anon_pipe_read"}
    attributed = 0
    for span in pipe:
        woke = pingpong.waker(span)
        if woke is not None and woke[0] == writer and "ping_writer" in woke[1]:
            attributed += 1
    assert attributed >= 0.95 * len(pipe), f"{attributed} of {len(pipe)}"
    # every kept wakeup involves the target: no other process's wakeups leak in
    pids = {t.pid for t in pingpong.threads}
    assert all(w[2] in pids or w[4] in pids for w in pingpong.wakeups.values())


@pytest.fixture(scope="module")
def mutex(offcpu_bin: dict[str, Path], offcpu_out: Path) -> Captured:
    return record(offcpu_bin, offcpu_out, "mutex")


def test_mutex_waits_are_lock_woken_by_the_unlocking_thread(mutex: Captured) -> None:
    (waiter,) = mutex.tids("waiter")
    (holder,) = mutex.tids("holder")
    contended = [s for s in mutex.of(waiter) if s["end"] - s["start"] > 5_000_000]
    assert len(contended) >= 8, mutex.of(waiter)
    for span in contended:
        assert span["reason"] == "lock", span
        assert {"take_lock", "lock_waiter"} & set(mutex.stack(span["stack"]))
        woke = mutex.waker(span)
        assert woke is not None and woke[0] == holder, span
        assert "hold_lock" in woke[1] or "lock_holder" in woke[1], woke


@pytest.fixture(scope="module")
def diskread(offcpu_bin: dict[str, Path], offcpu_out: Path) -> Iterator[Captured]:
    data = Path(tempfile.mkdtemp(prefix="stax-offcpu-data-", dir="/var/tmp"))
    try:
        data.chmod(0o755)
        path = data / "cold.bin"
        block = os.urandom(1 << 20)
        with open(path, "wb") as f:
            for _ in range(64):
                f.write(block)
            f.flush()
            os.fsync(f.fileno())
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        yield record(offcpu_bin, offcpu_out, "diskread", str(path))
    finally:
        shutil.rmtree(data, ignore_errors=True)


def test_reading_a_cold_file_is_disk_io(diskread: Captured) -> None:
    (main,) = [t.tid for t in diskread.threads if t.tid == t.pid and t.name == "diskread"]
    blocked = diskread.of(main)
    disk = [s for s in blocked if s["reason"] == "disk-io"]
    assert disk, blocked[:5]
    assert seconds(disk) >= 0.7 * seconds(blocked), {s["reason"]: s["wait_site"] for s in blocked}
    assert any("read_file" in diskread.stack(s["stack"]) for s in disk)


@pytest.fixture(scope="module")
def hogs(offcpu_bin: dict[str, Path], offcpu_out: Path) -> Captured:
    return record(offcpu_bin, offcpu_out, "hogs", "1")


def test_cpu_hogs_sharing_one_cpu_are_preempted_not_blocked(hogs: Captured) -> None:
    tids = hogs.tids("hog")
    assert len(tids) == 2
    preempted = sum(seconds(hogs.of(t, preempted=True)) for t in tids)
    blocked = sum(seconds(hogs.of(t)) for t in tids)
    assert preempted >= 0.6, preempted  # two threads on one CPU for 1 s: each waits about half
    assert blocked <= 0.02 + 0.02 * preempted, (blocked, preempted)
    assert all(s["wakeup"] is None for t in tids for s in hogs.of(t, preempted=True))


# -- unprivileged -------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")
def test_unprivileged_still_records_off_cpu_and_says_why_no_wakeups(
    offcpu_bin: dict[str, Path], offcpu_out: Path
) -> None:
    if int(Path("/proc/sys/kernel/perf_event_paranoid").read_text()) < 2:
        pytest.skip("perf_event_paranoid < 2 lets users record kernel stacks")
    nap = record(offcpu_bin, offcpu_out, "nap", as_nobody=True)
    (main,) = [t.tid for t in nap.threads if t.tid == t.pid and t.name == "nap"]
    assert seconds(nap.of(main)) == pytest.approx(1.000, rel=0.02)
    assert not nap.wakeups
    assert nap.meta["backend.wakeups_captured"] is False
    assert "root" in str(nap.meta["backend.wakeups_missing"])
    notes = nap.meta["notes"]
    assert isinstance(notes, list)
    # one sentence says everything staxd would have added (stax_backend_linux/capture/event_opener.py)
    wakeup_notes = [n for n in notes if "wakeups are missing because" in n and "staxd is not running" in n]
    assert len(wakeup_notes) == 1 and "sudo stax setup" in wakeup_notes[0], notes
    assert nap.meta["backend.off_cpu_reason_source"] == "wchan"
    reasons = {s["reason"] for s in nap.of(main)}
    assert reasons <= {"sleep", "other"}, reasons
    json.dumps(nap.meta)  # metadata stays plain JSON values
