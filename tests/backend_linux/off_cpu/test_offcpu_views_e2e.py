"""The off-CPU views on real recordings: `stax record` of workloads/views_*.c, then
`stax top|flamegraph|collapse --off-cpu`, `stax threads` and `stax wakers` as subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

WORKLOADS = Path(__file__).parent / "workloads"
STAX = str(Path(sys.executable).parent / "stax")
CFLAGS = ["-O1", "-g", "-fno-omit-frame-pointer", "-pthread"]

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux capture backend"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: kernel stacks and sched_waking"),
]


def stax(*args: str) -> str:
    proc = subprocess.run([STAX, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"stax {' '.join(args)}: {proc.stderr}"
    assert "Traceback" not in proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def recorded() -> Iterator[dict[str, Path]]:
    """nap and pingpong (200 rounds) built and recorded once for the module."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the workloads")
    work = Path(tempfile.mkdtemp(prefix="stax-offcpu-views-"))
    try:
        recordings = {}
        for name, args in (("nap", ()), ("pingpong", ("200",))):
            exe = work / name
            subprocess.run(["gcc", *CFLAGS, "-o", str(exe), str(WORKLOADS / f"views_{name}.c")],
                           check=True)
            rec = work / f"{name}.stax"
            stax("record", "-q", "-o", str(rec), "--", str(exe), *args)
            recordings[name] = rec
        yield recordings
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_top_off_cpu_shows_nap_with_one_second_of_sleep(recorded: dict[str, Path]) -> None:
    data = json.loads(stax("top", str(recorded["nap"]), "--off-cpu", "--json", "-n", "-1"))
    nap = {f["function"]: f for f in data["functions"]}["nap"]
    assert nap["blocked_ms"] == pytest.approx(1000, rel=0.02)
    assert nap["reasons"].get("sleep", 0) >= 0.99 * nap["blocked_ns"]
    assert nap["spans"] == 10
    assert data["reasons"][0]["reason"] == "sleep"
    text = stax("top", str(recorded["nap"]), "--off-cpu", "-n", "-1")
    (line,) = [line for line in text.splitlines() if line.split()[-2:-1] == ["nap"]]
    assert "sleep 100%" in line and float(line.split()[1].replace(",", "")) == pytest.approx(1000, rel=0.02)


def test_flamegraph_and_collapse_of_nap(recorded: dict[str, Path], tmp_path: Path) -> None:
    svg = tmp_path / "nap.svg"
    stax("flamegraph", str(recorded["nap"]), "--off-cpu", "-o", str(svg))
    root = ET.parse(svg).getroot()
    assert ">nap\n" in svg.read_text() and root.get("data-unit") == "blocked time"
    lines = stax("collapse", str(recorded["nap"]), "--off-cpu").splitlines()
    total = sum(int(line.rsplit(" ", 1)[1]) for line in lines)
    nap_ns = sum(int(line.rsplit(" ", 1)[1]) for line in lines if ";nap;" in line)
    top = json.loads(stax("top", str(recorded["nap"]), "--off-cpu", "--json"))
    assert total == top["blocked_ns"] and nap_ns == pytest.approx(1e9, rel=0.02)


def test_wakers_credit_the_timer_for_nap(recorded: dict[str, Path]) -> None:
    """A sleep is ended by the timer interrupt, never by whichever thread it interrupted.

    On an idle CPU this kernel often skips sched_waking for the timer's wakeup (perf
    misses them too), so the nap is recorded again while niced spinners keep both CPUs
    busy: then every wakeup is traced.
    """
    work = recorded["nap"].parent
    spinners = [subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", "while True: pass"])
                for _ in range(os.cpu_count() or 2)]
    try:
        rec = work / "nap-busy.stax"
        stax("record", "-q", "-o", str(rec), "--", str(work / "nap"))
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    data = json.loads(stax("wakers", str(rec), "--json", "-n", "-1"))
    naps = [c for c in data["chains"] if "nap" in [f["function"] for f in c["stack"]]]
    ns = sum(c["blocked_ns"] for c in naps)
    timer = sum(w["blocked_ns"] for c in naps for w in c["wakers"] if w["name"] == "[timer interrupt]")
    others = sum(w["blocked_ns"] for c in naps for w in c["wakers"] if w["name"] != "[timer interrupt]")
    assert ns == pytest.approx(1e9, rel=0.05)
    assert timer >= 0.8 * ns
    assert others <= 0.05 * ns


def test_wakers_show_ping_waking_pong(recorded: dict[str, Path]) -> None:
    data = json.loads(stax("wakers", str(recorded["pingpong"]), "--json", "-n", "-1", "--comm", "pong"))
    reads = [c for c in data["chains"] if c["reason"] == "pipe-ipc"
             and "pong_reader" in [f["function"] for f in c["stack"]]]
    ns = sum(c["blocked_ns"] for c in reads)
    assert ns > 0
    by_writer = sum(w["blocked_ns"] for c in reads for w in c["wakers"]
                    if w["name"] == "ping" and "ping_writer" in [f["function"] for f in w["stack"]])
    assert by_writer >= 0.95 * ns, (by_writer, ns)
    text = stax("wakers", str(recorded["pingpong"]), "--comm", "pong", "-n", "1")
    assert "-- woken by ping-" in text and "ping_writer" in text


def test_threads_of_pingpong(recorded: dict[str, Path]) -> None:
    data = json.loads(stax("threads", str(recorded["pingpong"]), "--json"))
    threads = {t["name"]: t for t in data["threads"]}
    pong, ping = threads["pong"], threads["ping"]
    assert pong["blocked"].get("pipe-ipc", 0) >= 0.9 * pong["blocked_ns"]
    assert pong["wakers"][0]["name"] == "ping" and pong["wakers"][0]["count"] >= 190
    assert ping["blocked"].get("sleep", 0) >= 0.9 * ping["blocked_ns"]
    assert ping["wakers"][0]["name"] == "[timer interrupt]"
