"""``stax export -f firefox``: the Firefox Profiler's processed format, version 70.

Structure is checked against the format's types (:mod:`tests.exports.firefox_processed_format`);
the content by reading the tables back: a track per thread, user/kernel/off-CPU categories,
a marker per off-CPU span, inlined calls as frames of one address at growing depths.
Loading the file in the Firefox Profiler itself needs its web app, which these offline
tests cannot run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.exports.conftest import needs_root, stax
from tests.exports.firefox_processed_format import problems
from tests.exports.synthetic_export import APP_BUILD_ID, APP_PATH


def export_firefox(rec: Path, out: Path) -> dict:
    stax("export", str(rec), "--format", "firefox", "-o", str(out))
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def profile(export_rec: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return export_firefox(export_rec, tmp_path_factory.mktemp("firefox") / "x.json")


def thread(profile: dict, name: str) -> dict:
    return next(t for t in profile["threads"] if t["name"] == name)


def stacks(profile: dict, samples: dict) -> dict[str, float]:
    """root;...;leaf -> summed weight of one thread's samples."""
    shared = profile["shared"]
    strings, frames, funcs = shared["stringArray"], shared["frameTable"], shared["funcTable"]
    table = shared["stackTable"]

    def path(stack: int) -> list[str]:
        out = []
        while True:
            out.append(strings[funcs["name"][frames["func"][table["frame"][stack]]]])
            offset = table["prefixOffset"][stack]
            if offset == 0:
                return out[::-1]
            stack -= offset

    totals: dict[str, float] = {}
    for stack, weight in zip(samples["stack"], samples["weight"], strict=True):
        key = ";".join(path(stack))
        totals[key] = round(totals.get(key, 0.0) + weight, 6)
    return totals


def test_structure_is_the_processed_format(profile: dict) -> None:
    assert problems(profile) == []
    assert profile["meta"]["preprocessedProfileVersion"] == 70


def test_checker_finds_broken_files(profile: dict) -> None:
    """The structural check can fail: a dangling frame index and a missing column are named."""
    broken = json.loads(json.dumps(profile))
    broken["shared"]["stackTable"]["frame"][0] = 10_000
    del broken["shared"]["funcTable"]["isJS"]
    found = problems(broken)
    assert any("stackTable.frame[0]" in p for p in found)
    assert any("funcTable.isJS" in p for p in found)


def test_a_track_per_thread_with_on_and_off_cpu_time(profile: dict) -> None:
    assert sorted((t["name"], t["pid"], t["tid"], t["isMainThread"]) for t in profile["threads"]) == [
        ("app", "400", 400, True), ("worker", "400", 401, False)]
    app = thread(profile, "app")
    assert app["samples"]["weightType"] == "tracing-ms"
    assert stacks(profile, app["samples"]) == {
        "main;work;compute;vec_add": 6.0, "main;interp;jit_fn": 3.0,
        "main;work;compute;vec_add;[off-CPU: preempted]": 1.0}
    worker = thread(profile, "worker")
    assert stacks(profile, worker["samples"]) == {
        "main;work;write;sys_write;vfs_write": 2.0, "[no stack]": 1.0,
        "main;nap;do_nanosleep;schedule;[off-CPU: sleep]": 10.0}


def test_categories_user_kernel_off_cpu(profile: dict) -> None:
    categories = profile["meta"]["categories"]
    names = [c["name"] for c in categories]
    assert names[1:] == ["User", "Kernel", "Off-CPU"]
    shared = profile["shared"]
    strings, frames, funcs = shared["stringArray"], shared["frameTable"], shared["funcTable"]
    by_name = {strings[funcs["name"][f]]: (frames["category"][i], frames["subcategory"][i])
               for i, f in enumerate(frames["func"])}
    assert names[by_name["compute"][0]] == "User"
    assert names[by_name["vfs_write"][0]] == "Kernel"
    category, sub = by_name["[off-CPU: sleep]"]
    assert names[category] == "Off-CPU" and categories[category]["subcategories"][sub] == "sleep"


def test_markers_for_off_cpu_spans(profile: dict) -> None:
    strings = profile["shared"]["stringArray"]
    markers = thread(profile, "worker")["markers"]
    assert markers["length"] == 2
    assert [strings[n] for n in markers["name"]] == ["Off-CPU: sleep"] * 2
    lengths = [round(e - s, 6) for s, e in zip(markers["startTime"], markers["endTime"], strict=True)]
    assert lengths == [5.0, 5.0]
    assert markers["data"][0] == {"type": "OffCPU", "reason": "sleep", "waitSite": "do_nanosleep"}
    assert markers["phase"] == [1, 1]
    app = thread(profile, "app")["markers"]
    assert [d["reason"] for d in app["data"]] == ["preempted"]


def test_inlined_call_is_a_deeper_frame_at_the_same_address(profile: dict) -> None:
    shared = profile["shared"]
    strings, frames, funcs = shared["stringArray"], shared["frameTable"], shared["funcTable"]
    rows = {strings[funcs["name"][f]]: i for i, f in enumerate(frames["func"])}
    compute, vec_add = rows["compute"], rows["vec_add"]
    assert frames["address"][compute] == frames["address"][vec_add] >= 0
    assert (frames["inlineDepth"][compute], frames["inlineDepth"][vec_add]) == (0, 1)
    assert (frames["line"][compute], frames["line"][vec_add]) == (31, 12)
    sources = shared["sources"]
    assert strings[sources["filename"][funcs["source"][frames["func"][vec_add]]]] == "/src/vec.h"
    lib = profile["libs"][frames["lib"][compute]]
    assert (lib["path"], lib["codeId"]) == (APP_PATH, APP_BUILD_ID.hex())
    assert frames["address"][rows["vfs_write"]] == -1  # kernel addresses do not fit a JS number


@needs_root
def test_real_recording_has_the_processed_format(pingpong_rec: Path, tmp_path: Path) -> None:
    profile = export_firefox(pingpong_rec, tmp_path / "pingpong.json")
    assert problems(profile) == []
    spans = sum(t["markers"]["length"] for t in profile["threads"])
    threads = json.loads(stax("threads", str(pingpong_rec), "--json").stdout)["threads"]
    assert spans == sum(t["blocked_spans"] + t["runnable_wait_spans"] for t in threads)
    weights = sum(sum(t["samples"]["weight"]) for t in profile["threads"])
    expected = sum(t["on_cpu_ns"] + t["blocked_ns"] + t["runnable_wait_ns"] for t in threads) / 1e6
    assert weights == pytest.approx(expected, rel=1e-9)
