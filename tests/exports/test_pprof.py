"""``stax export -f pprof`` read back by Go's own ``go tool pprof``.

On a synthetic recording, ``-raw`` shows what the file holds: the four sample types,
thread and reason labels, a mapping per image with its build id, functions with files
and lines, and a call inlined at an address as two lines of one location.  On real
recordings ``-top`` must agree with ``stax top``: the flat% of the top 10 functions
with ``--json``'s self% (on-CPU), and the cum% (inclusive blocked time) with ``stax top
--off-cpu --json``'s percent under ``-sample_index=off_cpu``, within half a point.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from tests.exports.conftest import go_pprof, needs_root, stax
from tests.exports.synthetic_export import APP_BUILD_ID, APP_PATH

TOP_ROW = re.compile(r"^\s*\S+\s+([\d.]+)%\s+[\d.]+%\s+\S+\s+([\d.]+)%\s+(.+?)\s*$")


def export_pprof(rec: Path, out: Path) -> Path:
    stax("export", str(rec), "--format", "pprof", "-o", str(out))
    return out


@pytest.fixture(scope="module")
def raw(export_rec: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    return go_pprof("-raw", str(export_pprof(export_rec, tmp_path_factory.mktemp("pprof") / "x.pb.gz")))


def test_file_is_gzipped_protobuf(export_rec: Path, tmp_path: Path) -> None:
    data = export_pprof(export_rec, tmp_path / "x.pb.gz").read_bytes()
    assert data[:2] == b"\x1f\x8b"
    from stax_render.pprof_proto import profile_pb2

    message = profile_pb2.Profile.FromString(gzip.decompress(data))
    assert message.string_table[0] == ""
    assert [message.string_table[t.type] for t in message.sample_type] == [
        "samples", "cpu", "off_cpu", "runnable_wait"]


def test_sample_types_and_values(raw: str) -> None:
    assert "samples/count cpu/nanoseconds[dflt] off_cpu/nanoseconds runnable_wait/nanoseconds" in raw
    values = [tuple(int(v) for v in m.groups()) for m in
              re.finditer(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+):", raw, re.MULTILINE)]
    assert sum(v[0] for v in values) == 12  # on-CPU samples
    assert sum(v[1] for v in values) == 12_000_000  # their CPU ns
    assert sum(v[2] for v in values) == 10_000_000  # two 5 ms sleeps
    assert sum(v[3] for v in values) == 1_000_000  # one 1 ms preemption


def test_thread_and_reason_labels(raw: str) -> None:
    assert "thread:[app]" in raw and "thread:[worker]" in raw
    assert "pid:[400] tid:[401]" in raw
    assert re.search(r"reason:\[sleep\] thread:\[worker\]\s+pid:\[400\] spans:\[2 count\] tid:\[401\]", raw)
    assert re.search(r"reason:\[preempted\] thread:\[app\]", raw)


def test_mappings_carry_paths_and_build_ids(raw: str) -> None:
    mappings = raw.split("Mappings\n", 1)[1]
    assert re.search(rf"{re.escape(APP_PATH)} {APP_BUILD_ID.hex()} \[FN\]\[FL\]\[LN\]\[IN\]", mappings)
    assert "[kernel.kallsyms]" in mappings


def test_inlined_call_is_two_lines_of_one_location(raw: str) -> None:
    locations = raw.split("Locations\n", 1)[1].split("Mappings\n", 1)[0]
    assert re.search(r"^\s+\d+: 0x[0-9a-f]+ M=\d+ vec_add /src/vec.h:12 s=0\n\s+compute /src/app.c:31 s=0$",
                     locations, re.MULTILINE), locations
    assert re.search(r"M=\d+ main /src/app.c:10 ", locations)
    assert re.search(r"M=\d+ jit_fn :0", locations)
    assert "[no stack]" in locations


def _pprof_top(profile: Path, *args: str) -> dict[str, tuple[float, float]]:
    """function -> (flat%, cum%) of every row ``go tool pprof -top`` prints.

    pprof shows a function's inlined copies as ``f (inline)`` rows (unless they share the
    function's file), stax as rows of their own: per plain name, self time is summed (the
    copies run in different samples) and inclusive time is the largest (one call inlined
    into another of the same name is on the same stacks).
    """
    rows: dict[str, tuple[float, float]] = {}
    for line in go_pprof("-top", "-nodefraction=0", "-nodecount=1000", *args, str(profile)).splitlines():
        match = TOP_ROW.match(line)
        if match:
            name = match.group(3).removesuffix(" (inline)")
            flat, cum = rows.get(name, (0.0, 0.0))
            rows[name] = (flat + float(match.group(1)), max(cum, float(match.group(2))))
    assert rows, "go tool pprof -top printed no rows"
    return rows


def _by_name(functions: list[dict], key: str) -> dict[str, float]:
    """stax's percentages per plain function name, as :func:`_pprof_top` has pprof's: self
    summed over inlined copies, inclusive the largest."""
    out: dict[str, float] = {}
    for row in functions:
        name = row["function"]
        out[name] = out.get(name, 0.0) + row[key] if key == "self_percent" else max(out.get(name, 0.0),
                                                                                     row[key])
    return out


@needs_root
@pytest.mark.parametrize("index", ["", "-sample_index=samples"])
def test_top_flat_percent_matches_stax_top(hotspots_rec: Path, tmp_path: Path, index: str) -> None:
    profile = export_pprof(hotspots_rec, tmp_path / "hot.pb.gz")
    pprof = _pprof_top(profile, *([index] if index else []))
    top = json.loads(stax("top", str(hotspots_rec), "--json", "-n", "-1").stdout)
    stax_self = _by_name(top["functions"], "self_percent")
    pprof_top10 = sorted(pprof, key=lambda name: -pprof[name][0])[:10]
    stax_top10 = sorted(stax_self, key=lambda name: -stax_self[name])[:10]
    assert pprof_top10[0] == stax_top10[0] == "hot_a"
    for name in {*pprof_top10, *stax_top10}:
        assert abs(pprof.get(name, (0.0, 0.0))[0] - stax_self.get(name, 0.0)) <= 0.5, name


@needs_root
def test_off_cpu_cum_percent_matches_stax_top_off_cpu(pingpong_rec: Path, tmp_path: Path) -> None:
    profile = export_pprof(pingpong_rec, tmp_path / "pingpong.pb.gz")
    pprof = _pprof_top(profile, "-sample_index=off_cpu", "-cum")
    # every frame ranked, the kernel frames all blocked stacks share too, as pprof -cum ranks them
    top = json.loads(stax("top", str(pingpong_rec), "--off-cpu", "--kernel-common", "--json", "-n",
                          "-1").stdout)
    stax_cum = _by_name(top["functions"], "percent")
    stax_top10 = sorted(stax_cum, key=lambda name: -stax_cum[name])[:10]
    pprof_top10 = sorted(pprof, key=lambda name: -pprof[name][1])[:10]
    assert len(stax_top10) == 10
    for name in {*pprof_top10, *stax_top10}:
        assert abs(pprof.get(name, (0.0, 0.0))[1] - stax_cum.get(name, 0.0)) <= 0.5, name
