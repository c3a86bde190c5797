"""``stax import`` of a real ``perf record -g``: the same profile ``perf report`` shows.

The check of issue 13: self% of the top 10 symbols of ``perf report --stdio
--no-children --sort sym`` and of ``stax top`` agree within 1 point; every view
works on the imported file (symbols, threads, build ids from HEADER_BUILD_ID).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from stax.recording.reader import Recording
from tests.backend_linux.perf_data.conftest import perf, perf_record
from tests.cli.conftest import stax

pytestmark = pytest.mark.slow
_REPORT_LINE = re.compile(r"^\s+(\d+\.\d+)%\s+\[([.k])\]\s+(\S.*?)\s*$")


def perf_report_self(data: Path) -> dict[str, float]:
    """'[.] name' -> self% from perf report (first line of each symbol's block)."""
    out = perf("report", "--stdio", "--no-children", "--sort", "sym", "-i", str(data)).stdout
    found: dict[str, float] = {}
    for line in out.splitlines():
        match = _REPORT_LINE.match(line)
        if match:
            found.setdefault(f"[{match[2]}] {match[3]}", float(match[1]))
    return found


def stax_top_self(rec: Path) -> dict[str, float]:
    top = json.loads(stax("top", "--json", "-n", "-1", str(rec)).stdout)
    found: dict[str, float] = {}
    for f in top["functions"]:
        name = f"[{'k' if f['is_kernel'] else '.'}] {f['function']}"
        found[name] = found.get(name, 0.0) + f["self_percent"]
    return found


@pytest.fixture(scope="module")
def hotspots_data(tmp_path_factory: pytest.TempPathFactory, perf_workloads: dict[str, Path]) -> Path:
    return perf_record(
        tmp_path_factory.mktemp("perf") / "perf.data", "-g", str(perf_workloads["hotspots"]), "2"
    )


@pytest.fixture(scope="module")
def hotspots_pipe_data(tmp_path_factory: pytest.TempPathFactory, perf_workloads: dict[str, Path]) -> Path:
    """``perf record -o -``: attrs, features and tracing data arrive as records."""
    return perf_record(
        tmp_path_factory.mktemp("perf") / "pipe.data", "-g", str(perf_workloads["hotspots"]), "2", pipe=True
    )


@pytest.fixture(scope="module")
def hotspots_zstd_data(tmp_path_factory: pytest.TempPathFactory, perf_workloads: dict[str, Path]) -> Path:
    """``perf record -z``: the rings' copies as zstd in PERF_RECORD_COMPRESSED records."""
    return perf_record(
        tmp_path_factory.mktemp("perf") / "z.data", "-z", "-g", str(perf_workloads["hotspots"]), "2"
    )


FIXTURES = {"file": "hotspots_data", "pipe": "hotspots_pipe_data", "zstd": "hotspots_zstd_data"}


@pytest.mark.parametrize("mode", list(FIXTURES))
def test_top_10_self_percent_matches_perf_report(
    mode: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    data = request.getfixturevalue(FIXTURES[mode])
    rec = tmp_path / "rec.stax"
    result = stax("import", str(data), "-o", str(rec))
    assert "(perf-data)" in result.stderr
    if mode == "zstd":
        assert "COMPRESSED" in perf("report", "--stats", "-i", str(data)).stdout
        recording = Recording.open(rec)
        try:
            assert recording.meta()["import.format"] == "perf.data (PERFILE2, little-endian, zstd-compressed)"
        finally:
            recording.close()
    reference = perf_report_self(data)
    ours = stax_top_self(rec)
    top10 = sorted(reference.items(), key=lambda kv: -kv[1])[:10]
    assert top10[0][0] == "[.] hot_a", top10
    for name, percent in top10:
        assert abs(ours.get(name, 0.0) - percent) <= 1.0, (name, percent, ours.get(name), ours)


def test_recording_meta_holds_the_feature_sections(hotspots_data: Path, tmp_path: Path) -> None:
    rec = tmp_path / "rec.stax"
    stax("import", "-q", str(hotspots_data), "-o", str(rec))
    recording = Recording.open(rec)
    try:
        meta = recording.meta()
        images = {img.path: img.build_id for img in recording.images()}
    finally:
        recording.close()
    header = perf("report", "--header-only", "-i", str(hotspots_data)).stdout
    hostname = re.search(r"^# hostname : (.*)$", header, re.MULTILINE)[1]
    release = re.search(r"^# os release : (.*)$", header, re.MULTILINE)[1]
    assert meta["import.machine.hostname"] == hostname
    assert meta["import.machine.os_release"] == release
    # perf's synthesized records of threads that existed before it (time 0) are not the start
    duration_ms = float(re.search(r"^# sample duration :\s*([\d.]+) ms$", header, re.MULTILINE)[1])
    assert abs(meta["import.duration_s"] * 1000 - duration_ms) < 50, (meta["import.duration_s"], duration_ms)
    assert meta["import.machine.nr_cpus_online"] >= 1
    assert meta["import.cmdline"][1:3] == ["record", "-q"]
    assert [e["as"] for e in meta["import.events"]] == ["on-CPU samples"]
    assert meta["import.events"][0]["event"].startswith("cpu-clock")
    buildids = perf("buildid-list", "-i", str(hotspots_data)).stdout.split()
    exe = str(next(p for p in images if p.endswith("/hotspots")))
    build_id = images[exe]
    assert build_id and (build_id if isinstance(build_id, str) else build_id.hex()) in buildids


def test_threads_view_names_the_workload(hotspots_data: Path, tmp_path: Path) -> None:
    rec = tmp_path / "rec.stax"
    stax("import", "-q", str(hotspots_data), "-o", str(rec))
    threads = json.loads(stax("threads", "--json", str(rec)).stdout)["threads"]
    assert [t["name"] for t in threads if t["samples"]] == ["hotspots"]
