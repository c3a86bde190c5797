"""A recording of an event that is not a clock (``stax record -e page-faults``) weighs its samples
in events: every export and ``stax threads`` names that event as the unit, none calls it CPU time
(the synthetic export recording with ``backend.event = page-faults`` and 10 events a sample)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tests.exports.conftest import stax
from tests.exports.synthetic_export import ON_CPU, PAGE_FAULTS_PERIOD

EVENTS = PAGE_FAULTS_PERIOD * sum(count for _, _, count in ON_CPU)


def test_pprof_names_the_event(page_faults_rec: Path, tmp_path: Path) -> None:
    from stax_render.pprof_proto import profile_pb2

    stax("export", str(page_faults_rec), "-f", "pprof", "-o", str(tmp_path / "f.pb.gz"))
    message = profile_pb2.Profile.FromString(gzip.decompress((tmp_path / "f.pb.gz").read_bytes()))
    strings = message.string_table
    assert [(strings[t.type], strings[t.unit]) for t in message.sample_type] == [
        ("samples", "count"), ("page-faults", "count"), ("off_cpu", "nanoseconds"),
        ("runnable_wait", "nanoseconds")]
    assert strings[message.default_sample_type] == "page-faults"
    assert (strings[message.period_type.type], strings[message.period_type.unit], message.period) == (
        "page-faults", "count", PAGE_FAULTS_PERIOD)
    assert sum(s.value[1] for s in message.sample) == EVENTS


def test_speedscope_keeps_events_apart_from_time(page_faults_rec: Path) -> None:
    document = json.loads(stax("export", str(page_faults_rec), "-f", "speedscope").stdout)
    units = {p["name"]: p["unit"] for p in document["profiles"]}
    events = {name: unit for name, unit in units.items() if name.endswith(": page-faults events")}
    off = {name: unit for name, unit in units.items() if name.endswith(": off-CPU")}
    assert set(events.values()) == {"none"} and set(off.values()) == {"nanoseconds"}
    assert len(events) == 2 and len(off) == 2 and len(units) == 4
    assert sum(p["endValue"] for p in document["profiles"] if p["name"] in events) == EVENTS


def test_firefox_weighs_samples_in_events(page_faults_rec: Path) -> None:
    document = json.loads(stax("export", str(page_faults_rec), "-f", "firefox").stdout)
    assert document["meta"]["product"].endswith("(page-faults events)")
    samples = [t["samples"] for t in document["threads"]]
    assert {s["weightType"] for s in samples} == {"samples"}
    assert sum(sum(s["weight"]) for s in samples) == EVENTS  # off-CPU spans are markers, not added in
    assert sum(len(t["markers"]["name"]) for t in document["threads"]) == 3


def test_threads_show_events_not_on_cpu_time(page_faults_rec: Path) -> None:
    view = json.loads(stax("threads", str(page_faults_rec), "--json").stdout)
    assert view["event"] == "page-faults"
    assert {t["on_cpu_ns"] for t in view["threads"]} == {None}
    assert sum(t["events"] for t in view["threads"]) == EVENTS
    text = stax("threads", str(page_faults_rec)).stdout
    assert text.splitlines()[0].endswith(": page-faults events per thread (what its samples stand for),"
                                         " and time in ms (blocked by reason, runnable wait)")
    header = next(line for line in text.splitlines() if line.lstrip().startswith("pid"))
    assert header.split()[3] == "page-faults" and "on-cpu" not in header
