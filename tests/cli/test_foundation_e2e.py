"""The foundation end to end: `stax record` on real workloads, then top/collapse/flamegraph.

These run the real kernel interface (perf_event_open) as root, the real CLI as a
subprocess, and assert the figures: the 75% function, the per-thread shares, the
kernel frames under user frames.
"""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.cli.conftest import stax
from tests.readiness import wait_for_exec

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for perf_event_open")


def top_json(rec: Path, *args: str, limit: int = 50) -> dict:
    return json.loads(stax("top", str(rec), "--json", "-n", str(limit), *args).stdout)


def folded(rec: Path, *args: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in stax("collapse", str(rec), *args).stdout.splitlines():
        stack, _, count = line.rpartition(" ")
        out[stack] = out.get(stack, 0) + int(count)
    return out


@pytest.fixture(scope="module")
def hotspots_rec(tmp_path_factory: pytest.TempPathFactory, hotspots: Path) -> Path:
    rec = tmp_path_factory.mktemp("rec") / "hot.stax"
    stax("record", "-o", str(rec), "--", str(hotspots), "2")
    return rec


def test_top_puts_hot_a_at_75_percent(hotspots_rec: Path) -> None:
    top = top_json(hotspots_rec)
    functions = {f["function"]: f for f in top["functions"]}
    assert top["samples"] >= 1000  # ~999 Hz for 2 s of CPU; fewer when the machine is busy
    assert functions["hot_a"]["self_percent"] == pytest.approx(75, abs=5)
    assert functions["hot_b"]["self_percent"] == pytest.approx(25, abs=5)
    assert functions["driver"]["total_percent"] >= 95
    assert functions["main"]["total_percent"] >= 95


def test_hot_functions_sit_under_driver_under_main(hotspots_rec: Path) -> None:
    stacks = folded(hotspots_rec)
    total = sum(stacks.values())
    under = {"hot_a": 0, "hot_b": 0}
    for stack, count in stacks.items():
        frames = stack.split(";")
        for name in under:
            if name in frames:
                i = frames.index(name)
                assert frames[i - 2 : i] == ["main", "driver"], stack
                under[name] += count
    assert under["hot_a"] / total == pytest.approx(0.75, abs=0.05)
    assert under["hot_b"] / total == pytest.approx(0.25, abs=0.05)


def test_collapse_totals_equal_sample_count(hotspots_rec: Path) -> None:
    assert sum(folded(hotspots_rec).values()) == top_json(hotspots_rec)["samples"]


def test_flamegraph_is_well_formed_svg_with_hot_functions(hotspots_rec: Path, tmp_path: Path) -> None:
    svg = tmp_path / "hot.svg"
    stax("flamegraph", str(hotspots_rec), "-o", str(svg))
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    text = svg.read_text()
    assert "hot_a" in text and "hot_b" in text and "driver" in text


def test_recording_is_self_contained(hotspots_rec: Path, hotspots: Path, tmp_path: Path) -> None:
    """Analysis needs neither the target nor its binaries."""
    moved = tmp_path / "moved.stax"
    moved.write_bytes(hotspots_rec.read_bytes())
    hidden = hotspots.with_suffix(".hidden")
    hotspots.rename(hidden)
    try:
        functions = {f["function"] for f in top_json(moved)["functions"]}
    finally:
        hidden.rename(hotspots)
    assert {"hot_a", "hot_b"} <= functions


def test_syscall_heavy_workload_shows_kernel_frames_under_user_frames(
    syscalls_bin: Path, tmp_path: Path
) -> None:
    rec = tmp_path / "sys.stax"
    stax("record", "-o", str(rec), "--", str(syscalls_bin), "1")
    top = top_json(rec, limit=100_000)
    kernel_self = sum(f["self"] for f in top["functions"] if f["is_kernel"])
    assert kernel_self / top["samples"] > 0.3
    # kernel frames sit above (leafward of) the user frames that made the syscall; libc's
    # write() has no frame pointer, so its caller do_syscalls may be skipped, but main is there
    kernel_names = {f["function"] for f in top["functions"] if f["is_kernel"]}
    stacks = folded(rec)
    with_kernel = 0
    for stack, count in stacks.items():
        frames = stack.split(";")
        first_kernel = next((i for i, name in enumerate(frames) if name in kernel_names), None)
        if first_kernel is None or "main" not in frames[:first_kernel]:
            continue
        kernel_part = frames[first_kernel:]
        assert all(name in kernel_names for name in kernel_part), stack
        if any("sys_" in name or name.startswith("entry_SYSCALL") for name in kernel_part):
            with_kernel += count
    assert with_kernel / sum(stacks.values()) > 0.3


def test_per_thread_counts_match_the_work_split(threads_bin: Path, tmp_path: Path) -> None:
    rec = tmp_path / "threads.stax"
    stax("record", "-o", str(rec), "--", str(threads_bin))
    threads = top_json(rec)["threads"]
    by_name = {t["name"]: t for t in threads}
    a, b = by_name["worker-a"]["samples"], by_name["worker-b"]["samples"]
    assert a / (a + b) == pytest.approx(2 / 3, abs=0.07)
    assert by_name["worker-a"]["tid"] != by_name["worker-b"]["tid"]
    assert by_name["worker-a"]["pid"] == by_name["worker-b"]["pid"]


def _spawn_spinner(spinner_bin: Path) -> subprocess.Popen:
    proc = subprocess.Popen([str(spinner_bin)])
    wait_for_exec(proc.pid, spinner_bin)
    return proc


def test_attach_to_running_pid(spinner_bin: Path, tmp_path: Path) -> None:
    proc = _spawn_spinner(spinner_bin)
    try:
        rec = tmp_path / "attach.stax"
        stax("record", "-p", str(proc.pid), "--duration", "1", "-o", str(rec))
    finally:
        proc.kill()
        proc.wait()
    top = top_json(rec)
    assert top["samples"] >= 500  # ~999 Hz for 1 s, on a busy 2-core machine
    assert {t["pid"] for t in top["threads"]} == {proc.pid}
    assert {t["tid"] for t in top["threads"]} == {proc.pid}
    assert top["threads"][0]["name"] == "spin_forever"
    functions = {f["function"]: f for f in top["functions"]}
    assert functions["spin_here"]["self_percent"] > 90


def test_system_wide_sees_the_spinner(spinner_bin: Path, tmp_path: Path) -> None:
    proc = _spawn_spinner(spinner_bin)
    try:
        rec = tmp_path / "all.stax"
        stax("record", "-a", "--duration", "1", "-o", str(rec))
    finally:
        proc.kill()
        proc.wait()
    top = top_json(rec, "--pid", str(proc.pid))
    assert top["samples"] >= 500  # ~999 Hz for 1 s, on a busy 2-core machine
    assert [t["name"] for t in top["threads"]] == ["spin_forever"]
    assert {f["function"] for f in top["functions"][:1]} == {"spin_here"}
    everything = top_json(rec)
    assert len({t["pid"] for t in everything["threads"]}) > 1  # other processes too


def test_forked_children_are_followed(tmp_path: Path, hotspots: Path) -> None:
    rec = tmp_path / "fork.stax"
    stax("record", "-o", str(rec), "--", "sh", "-c", f"{hotspots} 0.5; {hotspots} 0.5")
    top = top_json(rec, "--comm", "hotspots")
    pids = {t["pid"] for t in top["threads"]}
    assert len(pids) == 2
    assert top["samples"] >= 500  # ~999 Hz for 1 s, on a busy 2-core machine
    functions = {f["function"]: f for f in top["functions"]}
    assert functions["hot_a"]["self_percent"] == pytest.approx(75, abs=6)
