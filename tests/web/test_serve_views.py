"""The JSON views of `stax serve` on real recordings (issue 11 items 1-6): a 3:1 workload shows
hot_a at ~75% in the top table and the flame graph; thread and time filters change the
counts; transforms, sandwich, timeline; threads, wakers and annotate equal the CLI's --json."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.web.conftest import needs_root
from tests.web.server import STAX, serve

pytestmark = needs_root


@pytest.fixture(scope="module")
def served(rec_3_1: Path):
    with serve(str(rec_3_1)) as server:
        yield server


def named(payload: dict, name: str) -> list[list]:
    """The flame payload's nodes showing function ``name``."""
    index = payload["names"].index(name) if name in payload["names"] else -1
    return [node for node in payload["nodes"] if node[0] == index]


def share_a(top: dict) -> float:
    rows = {r["function"]: r for r in top["rows"]}
    return rows["hot_a"]["self"] / (rows["hot_a"]["self"] + rows["hot_b"]["self"])


def test_meta_lists_the_process_and_its_thread(served) -> None:
    meta = served.api("/api/meta")
    assert meta["sample_count"] > 100 and meta["duration_ns"] > 1_500_000_000
    (proc,) = meta["processes"]
    assert proc["name"] == "shares" and proc["threads"][0]["samples"] == meta["sample_count"]


def test_top_lists_hot_a_first_at_three_quarters(served) -> None:
    top = served.api("/api/top?limit=5")
    assert top["unit"] == "samples" and top["rows"][0]["function"] == "hot_a"
    assert 0.68 <= share_a(top) <= 0.82, top["rows"][:2]
    assert top["rows"][0]["file"].endswith("shares.c") and top["rows"][0]["line"] > 0
    assert top["rows"][0]["total"] / top["total"] > 0.6


def test_top_sorts_filters_and_limits(served) -> None:
    by_total = served.api("/api/top?sort=total&limit=3")
    totals = [r["total"] for r in by_total["rows"]]
    assert len(totals) == 3 and totals == sorted(totals, reverse=True)
    assert totals[0] >= 0.95 * by_total["total"]
    only_b = served.api("/api/top?filter=HOT_B")
    assert [r["function"] for r in only_b["rows"]] == ["hot_b"] and only_b["matched"] == 1


def test_flame_hot_a_is_three_quarters_of_the_root(served) -> None:
    flame = served.api("/api/flame")
    root = flame["nodes"][0]
    assert flame["names"][root[0]] == "all" and root[2] == -1 and root[3] == flame["total"]
    (hot_a,) = named(flame, "hot_a")
    (hot_b,) = named(flame, "hot_b")
    assert 0.68 <= hot_a[3] / (hot_a[3] + hot_b[3]) <= 0.82
    assert hot_a[3] / root[3] > 0.6
    # preorder: every parent comes before its children
    assert all(node[2] < i for i, node in enumerate(flame["nodes"]) if i)
    driver = flame["nodes"][hot_a[2]]
    assert flame["names"][driver[0]] == "driver"


def test_thread_and_time_filters_change_the_counts(served) -> None:
    meta = served.api("/api/meta")
    tid = meta["processes"][0]["threads"][0]["tid"]
    whole = served.api("/api/flame")["total"]
    assert served.api(f"/api/flame?tids={tid}")["total"] == whole
    assert served.api("/api/flame?tids=999999999")["total"] == 0
    middle = meta["duration_ns"] // 2
    first = served.api(f"/api/flame?end={middle}")["total"]
    second = served.api(f"/api/flame?start={middle}")["total"]
    assert first + second == whole and 0.15 < first / whole < 0.85
    window = served.api(f"/api/top?start={middle // 2}&end={middle}")
    assert 0 < window["total"] < first
    assert window["rows"][0]["function"] == "hot_a"


def test_timeline_density_adds_up_to_the_samples(served) -> None:
    meta = served.api("/api/meta")
    timeline = served.api("/api/timeline?buckets=50")
    (track,) = timeline["tracks"]
    assert len(track["density"]) == 50 and sum(track["density"]) == meta["sample_count"]
    assert track["name"] == "shares" and timeline["bucket_ns"] * 50 >= meta["duration_ns"]
    half = meta["duration_ns"] // 2
    zoomed = served.api(f"/api/timeline?buckets=10&start=0&end={half}")
    assert zoomed["start_ns"] == 0 and zoomed["end_ns"] >= half
    assert sum(zoomed["tracks"][0]["density"]) == served.api(f"/api/flame?end={half}")["total"]


def test_transforms(served) -> None:
    plain = served.api("/api/flame")
    (hot_a,) = named(plain, "hot_a")
    (driver,) = named(plain, "driver")
    assert any(node[5] == 1 for node in plain["nodes"])  # kernel frames (timer interrupts)
    no_kernel = served.api("/api/flame?kernel=0")
    assert not any(node[5] == 1 for node in no_kernel["nodes"]) and no_kernel["total"] == plain["total"]
    merged = served.api("/api/flame?merge=hot_a&kernel=0")
    assert not named(merged, "hot_a")
    (merged_driver,) = named(merged, "driver")
    assert merged_driver[4] >= driver[4] + hot_a[4]  # hot_a's self time is now driver's
    focused = served.api("/api/flame?focus=hot_b")
    (hot_b,) = named(plain, "hot_b")
    assert focused["total"] == hot_b[3] and focused["nodes"][1][2] == 0
    assert focused["names"][focused["nodes"][1][0]] == "hot_b"
    collapsed = served.api("/api/flame?collapse=libc.so.6")
    assert named(collapsed, "libc.so.6") and not named(collapsed, "__libc_start_call_main")
    inverted = served.api("/api/flame?invert=1")
    tops = {inverted["names"][n[0]]: n for n in inverted["nodes"] if n[2] == 0}
    assert tops["hot_a"][3] == hot_a[4]  # bottom-up: the leaf's self time on top


def test_sandwich_of_hot_a(served) -> None:
    sandwich = served.api("/api/sandwich?function=hot_a")
    callers, callees = sandwich["callers"], sandwich["callees"]
    assert callers["total"] == callees["total"] == sandwich["total"]
    assert callers["names"][callers["nodes"][1][0]] == "hot_a"
    assert callers["names"][callers["nodes"][2][0]] == "driver"  # hot_a's caller, below it
    assert callees["names"][callees["nodes"][1][0]] == "hot_a" and callees["nodes"][1][4] == sandwich["self"]
    assert served.get("/api/sandwich?function=no_such_function")[0] == 404


def test_bad_parameters_are_one_sentence(served) -> None:
    for path, words in [("/api/flame?mode=gpu", "not a mode"), ("/api/flame?start=soon", "not a time"),
                        ("/api/flame?start=5&end=5", "not after"), ("/api/flame?tids=a,b", "not a thread id"),
                        ("/api/top?sort=name", "not a column"), ("/api/timeline?buckets=0", "out of range"),
                        ("/api/annotate", "Give the function"), ("/api/flame?invert=yes", "not a flag")]:
        status, _, body = served.get(path)
        assert status == 400, (path, body)
        error = json.loads(body)["error"]
        assert words in error and error.endswith(".") and "\n" not in error
    assert served.get("/api/diff")[0] == 404  # no --base


def cli_json(*args: str) -> object:
    proc = subprocess.run([STAX, *args, "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_annotate_is_the_cli_json(served, rec_3_1: Path) -> None:
    assert served.api("/api/annotate?function=hot_a") == cli_json("annotate", str(rec_3_1), "hot_a")
    assert served.get("/api/annotate?function=no_such_function")[0] == 404
    status, _, body = served.get("/api/annotate?function=hot_")  # a part two names share, as the CLI says
    assert status == 400 and json.loads(body) == {
        "error": "'hot_' matches 2 functions (hot_a; hot_b); give the whole name."}


def test_threads_wakers_and_off_cpu_on_a_ping_pong(pingpong_rec: Path) -> None:
    with serve(str(pingpong_rec)) as server:
        assert server.api("/api/threads") == cli_json("threads", str(pingpong_rec))
        assert server.api("/api/wakers") == cli_json("wakers", str(pingpong_rec))
        assert server.api("/api/wakers?limit=1&wakers=1") == cli_json("wakers", str(pingpong_rec), "-n", "1",
                                                                      "-w", "1")
        tid = next(t["tid"] for p in server.api("/api/meta")["processes"] for t in p["threads"]
                   if t["name"] == "ping")
        one = cli_json("threads", str(pingpong_rec), "--tid", str(tid))
        assert server.api(f"/api/threads?tids={tid}") == one
        off = server.api("/api/flame?mode=offcpu")
        assert off["unit"] == "ns" and off["total"] > 100_000_000
        assert sum(off["reasons"]["0"].values()) == off["total"]
        assert {"sleep", "pipe-ipc"} <= set(off["reasons"]["0"])
        top = server.api("/api/top?mode=offcpu&limit=100")
        assert top["unit"] == "ns" and {"ping_writer", "pong_reader"} <= {r["function"] for r in top["rows"]}
        timeline = server.api("/api/timeline")
        reasons = {span[2] for track in timeline["tracks"] for span in track["spans"]}
        assert {"sleep", "pipe-ipc"} <= reasons


def test_diff_marks_the_grown_function(rec_1_1: Path, rec_3_1: Path) -> None:
    with serve(str(rec_1_1), "--base", str(rec_3_1)) as server:
        assert server.api("/api/meta")["has_base"] is True
        rows = {r["function"]: r for r in server.api("/api/diff/top")["rows"]}
        assert rows["hot_b"]["delta"] > 12 and rows["hot_a"]["delta"] < -12  # 25% -> 50%
        diff = server.api("/api/diff")
        (hot_b,) = named(diff, "hot_b")
        (hot_a,) = named(diff, "hot_a")
        assert hot_b[3] > 1.3 * hot_b[6] and hot_a[3] < 0.85 * hot_a[6]  # grew red, shrank blue
        assert diff["nodes"][0][6] == diff["nodes"][0][3] == diff["total"]  # base scaled to the total
