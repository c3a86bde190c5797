"""Callers of frameless libc leaves appear with their true share, on and off the CPU (issue 10).

leaf_callers.c spends equal, known times in fill_pages() -> memset and count_len() ->
strlen (on the CPU) and in sleep_wait() -> nanosleep and read_wait() -> read (off the CPU);
glibc keeps no frame pointers, so the kernel's frame-pointer walk skips each of those
callers.  Recorded with the real ``stax record``: the default ``--call-graph fp`` (hybrid:
the leaf unwound from a small stack copy, spliced onto the kernel's walk) and ``dwarf``
must give each caller >= 95% of its true share of the main thread's on-CPU samples and
blocked time; ``fp-only`` (the kernel's walk alone) gives ~0%, which is what this checks
against.  bench/bench_hybrid.py prints perf -g's figure on the same program.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from stax_backend_linux.decode import fast_decoder
from tests.conftest import compile_c

HERE = Path(__file__).resolve().parent
STAX = str(Path(sys.executable).parent / "stax")
PHASE_MS = "400"
ON_CPU = ("fill_pages", "count_len")
OFF_CPU = ("sleep_wait", "read_wait")
TRUE_SHARE = 0.5
"""Each of the two callers of a phase kind has half of the main thread's time of that kind."""

if not sys.platform.startswith("linux"):
    pytest.skip("hybrid unwinding is the Linux backend's", allow_module_level=True)
if os.geteuid() != 0:
    pytest.skip("off-CPU stacks need kernel-mode switch events (root here)", allow_module_level=True)


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("leaf") / "leaf_callers"
    return compile_c(HERE / "leaf_callers.c", out, "-O2", "-g", "-fno-omit-frame-pointer", "-pthread")


def record(program: Path, out: Path, *call_graph: str) -> str:
    proc = subprocess.run([STAX, "record", *call_graph, "-o", str(out), "--", str(program), PHASE_MS],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def main_thread_stacks(path: Path, *off_cpu: str) -> Iterator[tuple[list[str], int]]:
    """(frames root first, weight) of leafmain's thread: samples, or blocked ns with --off-cpu."""
    text = subprocess.run([STAX, "collapse", "--per-thread", *off_cpu, str(path)], capture_output=True,
                          text=True, check=True, timeout=120).stdout
    for line in text.splitlines():
        stack, _, weight = line.rpartition(" ")
        frames = stack.split(";")
        if frames[0].startswith("leafmain-"):
            yield frames[1:], int(weight)


def shares(path: Path, callers: tuple[str, ...], *off_cpu: str) -> dict[str, float]:
    total = 0
    found = dict.fromkeys(callers, 0)
    for frames, weight in main_thread_stacks(path, *off_cpu):
        total += weight
        for name in callers:
            if name in frames:
                found[name] += weight
    assert total > 0
    return {name: count / total for name, count in found.items()}


@pytest.fixture(scope="module")
def recordings(program: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    out = tmp_path_factory.mktemp("rec")
    made = {}
    for mode in ("fp", "dwarf", "fp-only"):
        path = out / f"{mode}.stax"
        flags = () if mode == "fp" else (f"--call-graph={mode}",)  # fp: the default, no flag
        made[mode] = (path, record(program, path, *flags))
    return made


@pytest.mark.parametrize("mode", ["fp", "dwarf"])
def test_on_cpu_callers_of_memset_and_strlen(recordings: dict[str, tuple[Path, str]], mode: str) -> None:
    got = shares(recordings[mode][0], ON_CPU)
    print(f"{mode} on-CPU shares: {got}")
    for name in ON_CPU:
        assert got[name] >= 0.95 * TRUE_SHARE, (name, got)


@pytest.mark.parametrize("mode", ["fp", "dwarf"])
def test_off_cpu_callers_of_nanosleep_and_read(recordings: dict[str, tuple[Path, str]], mode: str) -> None:
    got = shares(recordings[mode][0], OFF_CPU, "--off-cpu")
    print(f"{mode} off-CPU shares: {got}")
    for name in OFF_CPU:
        assert got[name] >= 0.95 * TRUE_SHARE, (name, got)


def test_fp_only_keeps_the_kernel_walk(recordings: dict[str, tuple[Path, str]]) -> None:
    """The old behaviour, and what the two tests above would see without the repair."""
    path, stderr = recordings["fp-only"]
    assert max(shares(path, ON_CPU).values()) < 0.05
    assert max(shares(path, OFF_CPU, "--off-cpu").values()) < 0.05
    assert "repaired" not in stderr


def test_summary_says_how_many_stacks_were_repaired(recordings: dict[str, tuple[Path, str]]) -> None:
    stderr = recordings["fp"][1]
    line = next(line for line in stderr.splitlines() if line.startswith("stax: recorded"))
    repaired, _, looked = line.split(" stacks repaired")[0].rpartition(", ")[2].partition(" of ")
    assert int(looked.replace(",", "")) >= int(repaired.replace(",", "")) > 500, line


def test_default_fp_takes_the_compiled_stream(recordings: dict[str, tuple[Path, str]]) -> None:
    """The shares above come from the compiled drain round in fp and fp-only; dwarf spools objects."""
    if fast_decoder.load() is None:
        pytest.skip("no compiled decoder (no compiler, or STAX_PURE_PYTHON=1)")
    ran = {}
    for mode, (path, _stderr) in recordings.items():
        with closing(sqlite3.connect(path)) as db:
            (value,) = db.execute("SELECT value FROM meta WHERE key = 'backend.capture_stream'").fetchone()
        ran[mode] = json.loads(value)
    assert ran == {"fp": "compiled", "fp-only": "compiled", "dwarf": "python"}
