"""``stax export -f speedscope``: valid against speedscope's published schema, one profile per thread.

The schema is ``speedscope-file-format-schema.json`` beside this file (its source is in
this directory's README.md), checked with ``jsonschema``.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.exports.conftest import needs_root, stax

SCHEMA = json.loads((Path(__file__).with_name("speedscope-file-format-schema.json")).read_text())


def export_speedscope(rec: Path, out: Path) -> dict:
    stax("export", str(rec), "--format", "speedscope", "-o", str(out))
    return json.loads(out.read_text())


def stacks(document: dict, profile: dict) -> dict[str, int]:
    """root;...;leaf -> weight, for one profile of a speedscope file."""
    names = [frame["name"] for frame in document["shared"]["frames"]]
    out: dict[str, int] = {}
    for sample, weight in zip(profile["samples"], profile["weights"], strict=True):
        key = ";".join(names[i] for i in sample)
        out[key] = out.get(key, 0) + weight
    return out


@pytest.fixture(scope="module")
def document(export_rec: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return export_speedscope(export_rec, tmp_path_factory.mktemp("speedscope") / "x.speedscope.json")


def test_valid_against_published_schema(document: dict) -> None:
    jsonschema.validate(document, SCHEMA)


def test_schema_rejects_what_speedscope_would(document: dict) -> None:
    """The check can fail: a sampled profile without weights is not a speedscope file."""
    broken = json.loads(json.dumps(document))
    del broken["profiles"][0]["weights"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


def test_one_sampled_profile_per_thread_in_nanoseconds(document: dict) -> None:
    profiles = {p["name"]: p for p in document["profiles"]}
    assert set(profiles) == {"app (pid 400, tid 400)", "worker (pid 400, tid 401)"}
    for profile in profiles.values():
        assert profile["type"] == "sampled" and profile["unit"] == "nanoseconds"
        assert profile["endValue"] - profile["startValue"] == sum(profile["weights"])


def test_on_cpu_and_off_cpu_time_per_thread(document: dict) -> None:
    profiles = {p["name"]: p for p in document["profiles"]}
    app = stacks(document, profiles["app (pid 400, tid 400)"])
    assert app == {
        "main;work;compute;vec_add": 6_000_000,
        "main;interp;jit_fn": 3_000_000,
        "main;work;compute;vec_add;[off-CPU: preempted]": 1_000_000,
    }
    worker = stacks(document, profiles["worker (pid 400, tid 401)"])
    assert worker == {
        "main;work;write;sys_write;vfs_write": 2_000_000,
        "[no stack]": 1_000_000,
        "main;nap;do_nanosleep;schedule;[off-CPU: sleep]": 10_000_000,
    }
    # the thread with the most time comes first
    assert document["profiles"][0]["name"] == "worker (pid 400, tid 401)"


def test_frames_carry_files(document: dict) -> None:
    frames = {frame["name"]: frame for frame in document["shared"]["frames"]}
    assert frames["compute"]["file"] == "/src/app.c"
    assert frames["vec_add"]["file"] == "/src/vec.h"
    assert "file" not in frames["sys_write"]


@needs_root
def test_real_recording_is_valid(pingpong_rec: Path, tmp_path: Path) -> None:
    document = export_speedscope(pingpong_rec, tmp_path / "pingpong.speedscope.json")
    jsonschema.validate(document, SCHEMA)
    threads = json.loads(stax("threads", str(pingpong_rec), "--json").stdout)["threads"]
    totals = {t["tid"]: t["on_cpu_ns"] + t["blocked_ns"] + t["runnable_wait_ns"] for t in threads}
    for profile in document["profiles"]:
        tid = int(profile["name"].rsplit("tid ", 1)[1].rstrip(")"))
        assert sum(profile["weights"]) == totals[tid]
