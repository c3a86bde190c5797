"""Real captures through LinuxBackend().record on this machine's kernel.

Each workload is a C program from workloads/ built with frame pointers; shares are
computed from user-stack leaf addresses mapped through the recorded ImageLoad of the
executable and the symbol ranges ``nm`` reports.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from stax.contracts import CaptureBackend, CaptureProgress, RecordRequest
from stax.errors import StaxError, UsageError
from stax.events import ImageLoad, Sample, ThreadExit, ThreadName
from stax_backend_linux.plugin import LinuxBackend
from tests.backend_linux.conftest import ListSink, needs_root
from tests.readiness import wait_for_exec, wait_for_thread_names

FREQ = 999


def _never() -> bool:
    return False


def record(request: RecordRequest, sink: ListSink, progress: list[CaptureProgress] | None = None,
           should_stop=_never):  # type: ignore[no-untyped-def]
    calls = progress if progress is not None else []
    return LinuxBackend().record(request, sink, calls.append, should_stop)


class Symbols:
    """Function ranges of an executable, and address -> function via its ImageLoad."""

    def __init__(self, exe: Path, load: ImageLoad) -> None:
        self.ranges: dict[str, tuple[int, int]] = {}
        for line in subprocess.run(["nm", "-S", "--defined-only", str(exe)], capture_output=True,
                                   text=True, check=True).stdout.splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[2] in "tT":
                start = int(parts[0], 16)
                self.ranges[parts[3]] = (start, start + int(parts[1], 16))
        # PT_LOAD segments give file offset -> virtual address
        self.segments: list[tuple[int, int, int]] = []
        for line in subprocess.run(["readelf", "-lW", str(exe)], capture_output=True, text=True,
                                   check=True).stdout.splitlines():
            parts = line.split()
            if parts and parts[0] == "LOAD":
                self.segments.append((int(parts[1], 16), int(parts[2], 16), int(parts[4], 16)))
        self.load = load

    def function(self, address: int) -> str | None:
        if not self.load.start <= address < self.load.end:
            return None
        file_offset = address - self.load.start + self.load.file_offset
        for offset, vaddr, size in self.segments:
            if offset <= file_offset < offset + size:
                vaddr_of = file_offset - offset + vaddr
                for name, (lo, hi) in self.ranges.items():
                    if lo <= vaddr_of < hi:
                        return name
        return None


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc/PID/stat (fields 14 and 15, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _exe_load(sink: ListSink, exe: Path, pid: int) -> ImageLoad:
    loads = [e for e in sink.of(ImageLoad) if e.path == str(exe) and e.pid == pid]
    assert loads, f"no ImageLoad for {exe} in pid {pid}"
    return loads[0]


def _assert_time_ordered(sink: ListSink) -> None:
    times = [e.time for e in sink.events]
    assert times == sorted(times)


def test_plugin_is_discovered_and_satisfies_the_contract() -> None:
    from stax.plugin_manager import StaxPlugins

    backend = StaxPlugins().backend_for_this_os()
    assert isinstance(backend, LinuxBackend) and isinstance(backend, CaptureBackend)
    assert (backend.name, backend.os_name) == ("linux-perf", "linux")


def test_hot_function_shares_and_main_in_stack(workloads: dict[str, Path], sink: ListSink) -> None:
    exe = workloads["hot_split"]
    progress: list[CaptureProgress] = []
    fds_before = len(os.listdir("/proc/self/fd"))
    cpu_before = _children_cpu_seconds()
    summary = record(RecordRequest(command=(str(exe), "1.5")), sink, progress)
    cpu = _children_cpu_seconds() - cpu_before  # the backend reaped the target: its CPU time
    assert len(os.listdir("/proc/self/fd")) == fds_before, "capture leaked file descriptors"
    assert summary.target_exit_code == 0
    assert summary.lost_records == 0 and summary.throttled == 0
    samples = sink.samples
    assert summary.samples == len(samples)
    # one sample per 1/999 s of the target's CPU time: nothing lost or throttled
    print(f"{len(samples)} samples for {cpu:.3f} s of CPU ({len(samples) / cpu:.0f}/s)")
    assert 0.9 * cpu * FREQ <= len(samples) <= 1.05 * cpu * FREQ
    assert all(s.weight == 1_000_000_000 // FREQ for s in samples)
    assert summary.metadata["sample_period_ns"] == 1_000_000_000 // FREQ
    assert summary.metadata["clock"] == "CLOCK_MONOTONIC"
    assert summary.metadata["cpus"] == len(os.sched_getaffinity(0)) or summary.metadata["cpus"] >= 1
    _assert_time_ordered(sink)
    # progress: about every 0.25 s, with a running sample count
    assert len(progress) >= 4
    assert [p.samples for p in progress] == sorted(p.samples for p in progress)
    assert progress[-1].samples == len(samples)

    pid = summary.metadata["target_pid"]
    names = sink.of(ThreadName)
    assert ThreadName(names[0].time, pid, pid, "hot_split", True) in names
    load = _exe_load(sink, exe, pid)
    assert load.build_id is not None and len(load.build_id) == 20
    assert load.time < samples[0].time, "the executable's mapping must precede its samples"

    symbols = Symbols(exe, load)
    leaf = Counter(symbols.function(s.user_ips[0]) for s in samples if s.pid == pid and s.user_ips)
    a, b = leaf["hot_a"], leaf["hot_b"]
    share_a = 100 * a / (a + b)
    print(f"hot_a {a} hot_b {b}: {share_a:.1f}% / {100 - share_a:.1f}%")
    assert a + b >= 0.9 * len(samples)
    assert 70 <= share_a <= 80
    for function in ("hot_a", "hot_b"):
        stacks = [s.user_ips for s in samples if s.user_ips and symbols.function(s.user_ips[0]) == function]
        with_main = sum(1 for ips in stacks if any(symbols.function(ip) == "main" for ip in ips[1:]))
        assert with_main >= 0.95 * len(stacks), f"{function}: main in {with_main}/{len(stacks)} stacks"


@needs_root
def test_syscall_heavy_workload_has_kernel_frames(workloads: dict[str, Path], sink: ListSink) -> None:
    summary = record(RecordRequest(command=(str(workloads["syscall_loop"]), "1")), sink)
    assert summary.metadata["kernel_stacks"] is True and summary.notes == []
    samples = sink.samples
    with_kernel = [s for s in samples if s.kernel_ips]
    print(f"{len(with_kernel)}/{len(samples)} samples with kernel frames")
    assert len(with_kernel) >= 0.3 * len(samples)
    assert all(ip >= 0xFFFF800000000000 for s in with_kernel for ip in s.kernel_ips)
    assert all(s.user_ips for s in with_kernel), "a syscall sample still has its user stack"


def _spinner(exe: Path, seconds: float = 10) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([str(exe), str(seconds)])
    wait_for_exec(proc.pid, exe)
    return proc


def test_attach_to_running_process(workloads: dict[str, Path], sink: ListSink) -> None:
    proc = _spinner(workloads["spinner"])
    try:
        cpu_before = _cpu_seconds(proc.pid)
        summary = record(RecordRequest(pids=(proc.pid,), duration=1.0), sink)
        cpu = _cpu_seconds(proc.pid) - cpu_before
    finally:
        proc.kill()
        proc.wait()
    samples = sink.samples
    assert summary.lost_records == 0 and summary.target_exit_code is None
    print(f"-p: {len(samples)} samples for {cpu:.2f} s of CPU")
    assert 0.85 * cpu * FREQ - 20 <= len(samples) <= 1.1 * cpu * FREQ + 20
    assert all((s.pid, s.tid) == (proc.pid, proc.pid) for s in samples)
    assert any(n.pid == n.tid == proc.pid and n.name == "spinner" for n in sink.of(ThreadName))
    load = _exe_load(sink, workloads["spinner"], proc.pid)
    symbols = Symbols(workloads["spinner"], load)
    in_spin = sum(1 for s in samples if symbols.function(s.user_ips[0]) == "spin_here")
    assert in_spin >= 0.9 * len(samples)
    _assert_time_ordered(sink)


@needs_root
def test_system_wide_sees_the_spinner(workloads: dict[str, Path], sink: ListSink) -> None:
    proc = _spinner(workloads["spinner"])
    try:
        cpu_before = _cpu_seconds(proc.pid)
        summary = record(RecordRequest(system_wide=True, duration=1.0), sink)
        cpu = _cpu_seconds(proc.pid) - cpu_before
    finally:
        proc.kill()
        proc.wait()
    assert summary.lost_records == 0
    mine = [s for s in sink.samples if s.pid == proc.pid]
    assert all(s.tid == proc.pid for s in mine)
    print(f"-a: {len(mine)} spinner samples for {cpu:.2f} s of CPU; {len(sink.samples)} in all")
    assert len(mine) >= 0.85 * cpu * FREQ - 20 and len(mine) >= 100
    assert any(n.pid == proc.pid and n.name == "spinner" for n in sink.of(ThreadName))
    assert {s.pid for s in sink.samples} >= {proc.pid}
    _assert_time_ordered(sink)


def test_two_threads_split_two_to_one(workloads: dict[str, Path], sink: ListSink) -> None:
    summary = record(RecordRequest(command=(str(workloads["two_threads"]), "400")), sink)
    assert summary.target_exit_code == 0 and summary.lost_records == 0
    pid = summary.metadata["target_pid"]
    names = {n.tid: n.name for n in sink.of(ThreadName) if n.pid == pid}
    per_thread = Counter(names.get(s.tid) for s in sink.samples if s.pid == pid)
    big, small = per_thread["worker-big"], per_thread["worker-small"]
    share = 100 * big / (big + small)
    print(f"worker-big {big} worker-small {small}: {share:.1f}%")
    assert big + small >= 0.9 * len(sink.samples)
    assert abs(share - 200 / 3) <= 7
    exits = {e.tid for e in sink.of(ThreadExit) if e.pid == pid}
    assert {tid for tid, name in names.items() if name.startswith("worker-")} <= exits


def test_stop_request_terminates_the_command(workloads: dict[str, Path], sink: ListSink) -> None:
    started = time.monotonic()
    cpu_before = _children_cpu_seconds()
    summary = record(RecordRequest(command=(str(workloads["spinner"]), "30")), sink,
                     should_stop=lambda: time.monotonic() - started > 0.6)
    cpu = _children_cpu_seconds() - cpu_before
    assert time.monotonic() - started < 5
    assert summary.target_exit_code == 128 + 15  # SIGTERM
    assert 0.9 * cpu * FREQ - 10 <= len(sink.samples) <= 1.05 * cpu * FREQ + 10
    assert summary.samples == len(sink.samples)


def test_duration_stops_a_command(workloads: dict[str, Path], sink: ListSink) -> None:
    started = time.monotonic()
    cpu_before = _children_cpu_seconds()
    summary = record(RecordRequest(command=(str(workloads["spinner"]), "30"), duration=0.5), sink)
    cpu = _children_cpu_seconds() - cpu_before
    assert time.monotonic() - started < 5
    assert summary.target_exit_code == 143
    assert 0.9 * cpu * FREQ - 10 <= len(sink.samples) <= 1.05 * cpu * FREQ + 10


def _one_sentence(err: StaxError) -> str:
    text = str(err)
    assert "\n" not in text and text.endswith(".") and text.count(". ") == 0
    return text


def test_missing_command_is_one_sentence(sink: ListSink) -> None:
    with pytest.raises(UsageError) as info:
        record(RecordRequest(command=("stax-no-such-command-xyz", "--flag")), sink)
    assert _one_sentence(info.value) == ("Command 'stax-no-such-command-xyz' not found; check the spelling "
                                         "or give its full path.")
    assert sink.events == []


def test_exec_failure_comes_back_through_the_error_pipe(tmp_path: Path, sink: ListSink) -> None:
    script = tmp_path / "bad-interpreter"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    with pytest.raises(UsageError) as info:
        record(RecordRequest(command=(str(script),)), sink)
    assert "not found" in _one_sentence(info.value)


def test_missing_pid_is_one_sentence(sink: ListSink) -> None:
    pid = 4_000_000  # above pid_max's ceiling (4194304 is the maximum; 4e6 is never handed out here)
    while os.path.exists(f"/proc/{pid}"):
        pid += 1
    with pytest.raises(UsageError) as info:
        record(RecordRequest(pids=(pid,), duration=0.2), sink)
    assert _one_sentence(info.value) == (f"No process with pid {pid} exists; check the pid (for example "
                                         f"with ps) and try again.")


def test_bad_frequency_is_a_usage_error(sink: ListSink) -> None:
    with pytest.raises(UsageError):
        record(RecordRequest(command=("true",), frequency=10_000_000), sink)


def test_samples_are_sample_objects(workloads: dict[str, Path], sink: ListSink) -> None:
    record(RecordRequest(command=(str(workloads["spinner"]), "0.2"), frequency=199), sink)
    assert sink.samples and all(type(s) is Sample and s.weight == 1_000_000_000 // 199 for s in sink.samples)


def test_forked_children_are_followed_into_a_recording(workloads: dict[str, Path], tmp_path: Path) -> None:
    """inherit follows processes the command forks; the recording resolves their frames."""

    from stax.events import ThreadStart
    from stax.recording.writer import RecordingBuilder

    spinner = workloads["spinner"]
    builder = RecordingBuilder(tmp_path / "fork.stax")
    seen = ListSink()

    class Tee:
        def consume(self, events):  # type: ignore[no-untyped-def]
            seen.consume(events)
            builder.consume(events)

    cpu_before = _children_cpu_seconds()  # waited-for grandchildren count too
    summary = record(RecordRequest(command=("/bin/sh", "-c", f"{spinner} 0.4 & {spinner} 0.4; wait")), Tee())
    cpu = _children_cpu_seconds() - cpu_before
    builder.finish(symbolicate=False)
    shell = summary.metadata["target_pid"]
    assert summary.target_exit_code == 0 and summary.lost_records == 0
    children = {e.pid for e in seen.of(ThreadStart) if e.pid == e.tid and e.parent_pid == shell}
    assert len(children) == 2
    execs = {(n.pid, n.name) for n in seen.of(ThreadName) if n.is_exec}
    assert {(pid, "spinner") for pid in children} <= execs
    per_pid = Counter(s.pid for s in seen.samples)
    assert all(per_pid[pid] >= 20 for pid in children), per_pid
    assert 0.9 * cpu * FREQ - 10 <= len(seen.samples) <= 1.05 * cpu * FREQ + 10

    from stax.recording.sample_sql import connect

    db = connect(tmp_path / "fork.stax")
    leaf_images = dict(db.execute(
        "SELECT i.path, count(*) FROM samples s JOIN stacks st ON st.id = s.stack_id "
        "JOIN frames f ON f.id = st.frame_id JOIN images i ON i.id = f.image_id GROUP BY i.path"))
    db.close()
    assert leaf_images.get(str(spinner), 0) >= 0.9 * sum(leaf_images.values()), leaf_images


def test_attach_includes_existing_threads(workloads: dict[str, Path], sink: ListSink) -> None:
    """-p opens threads x CPUs events and funnels them into one ring per CPU (SET_OUTPUT)."""
    proc = subprocess.Popen([str(workloads["two_threads"]), "100000"])
    try:
        wait_for_thread_names(proc.pid, ["two_threads", "worker-big", "worker-small"])
        summary = record(RecordRequest(pids=(proc.pid,), duration=0.8), sink)
    finally:
        proc.kill()
        proc.wait()
    assert summary.lost_records == 0
    names = {n.tid: n.name for n in sink.of(ThreadName) if n.pid == proc.pid}
    assert sorted(names.values()) == ["two_threads", "worker-big", "worker-small"]
    per_thread = Counter(names.get(s.tid) for s in sink.samples if s.pid == proc.pid)
    assert per_thread["worker-big"] >= 40 and per_thread["worker-small"] >= 40, per_thread
    assert {s.cpu for s in sink.samples} <= set(range(os.cpu_count() or 1))


@needs_root
def test_stack_copies_at_switch_outs_get_a_ring_twice_as_big() -> None:
    """The hybrid default copies 512 B of user stack at every switch-out, about doubling the bytes
    a switch writes: its rings hold 16 MiB a CPU (fp-only keeps 8 MiB), so a loaded machine's
    ping-pong loses nothing (capture_session.ROOT_OFF_CPU_DUMP_DATA_PAGES)."""
    sizes = {}
    for call_graph in ("fp", "fp-only"):
        summary = record(RecordRequest(command=("true",), call_graph=call_graph, off_cpu=True), ListSink())
        sizes[call_graph] = summary.metadata["ring_buffer_bytes_per_cpu"]
    assert sizes == {"fp": 16 << 20, "fp-only": 8 << 20}
