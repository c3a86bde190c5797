"""Off-CPU time and wakeups from real perf recordings, checked against ``perf script``.

* ``perf record -a -e sched:sched_switch -g``: each sched_switch sample is a switch-out
  of ``prev_pid`` and a switch-in of ``next_pid``; per thread, the time from a
  switch-out to its next switch-in, summed over ``perf script``'s lines, must match
  the import's off-CPU time (blocked + runnable wait) within 2%;
* ``perf record --switch-events``: the same from PERF_RECORD_SWITCH OUT/IN lines;
* ``-e sched:sched_waking``: ``stax wakers`` names the thread that woke the waiter.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from tests.backend_linux.perf_data.conftest import needs_root, perf, perf_record
from tests.cli.conftest import stax

pytestmark = [pytest.mark.slow, needs_root]
_SWITCH = re.compile(
    r"^\s*-?\d+\s+(\d+)\.(\d+): sched:sched_switch: .*prev_pid=(\d+) .*==> .*next_pid=(\d+) "
)
_SWITCH_RECORD = re.compile(r"\s(\d+)\s+(\d+)\.(\d+): PERF_RECORD_SWITCH(?:_CPU_WIDE)? (OUT|IN)")


def _ns(seconds: str, fraction: str) -> int:
    return int(seconds) * 1_000_000_000 + int(fraction.ljust(9, "0"))


def pair_switches(switches: list[tuple[int, int, bool]]) -> dict[int, int]:
    """tid -> ns from each switch-out to the thread's next switch-in (time, tid, out), in order."""
    opened: dict[int, int] = {}
    total: dict[int, int] = defaultdict(int)
    for when, tid, out in switches:
        if out:
            opened[tid] = when
        elif tid in opened:
            total[tid] += when - opened.pop(tid)
    return total


def sched_switch_totals(data: Path, pipe: bool = False) -> dict[int, int]:
    fields = ("script", "--ns", "-F", "tid,time,event,trace")
    out = (perf(*fields, "-i", "-", stdin=data) if pipe else perf(*fields, "-i", str(data))).stdout
    switches = []
    for line in out.splitlines():
        match = _SWITCH.match(line)
        if match:
            when = _ns(match[1], match[2])
            switches += [(when, int(match[3]), True), (when, int(match[4]), False)]
    return pair_switches(switches)


def switch_record_totals(data: Path) -> dict[int, int]:
    out = perf("script", "--ns", "--show-switch-events", "-i", str(data)).stdout
    switches = [
        (_ns(m[2], m[3]), int(m[1]), m[4] == "OUT") for m in map(_SWITCH_RECORD.search, out.splitlines()) if m
    ]
    assert switches, out[:2000]
    return pair_switches(switches)


def imported_off_cpu(rec: Path, process: str) -> dict[int, int]:
    """tid -> off-CPU ns (blocked + runnable wait) of ``process``'s threads, from ``stax threads``."""
    threads = json.loads(stax("threads", "--json", str(rec)).stdout)["threads"]
    return {t["tid"]: t["blocked_ns"] + t["runnable_wait_ns"] for t in threads if t["process"] == process}


def assert_totals_match(ours: dict[int, int], reference: dict[int, int]) -> None:
    assert len(ours) == 3, ours  # mutex, holder, waiter
    theirs = sum(reference.get(tid, 0) for tid in ours)
    assert theirs > 150_000_000, (theirs, reference)  # the waiter alone blocks ~200 ms
    assert abs(sum(ours.values()) - theirs) <= 0.02 * theirs, (ours, {t: reference.get(t) for t in ours})


@pytest.mark.parametrize("mode", ["file", "pipe"])
def test_sched_switch_off_cpu_matches_perf_script(
    mode: str, tmp_path: Path, perf_workloads: dict[str, Path]
) -> None:
    """In a pipe, the tracepoint's format arrives as a HEADER_TRACING_DATA record."""
    mutex = str(perf_workloads["mutex"])
    data = perf_record(
        tmp_path / "switch.data", "-a", "-e", "sched:sched_switch", "-g", mutex, pipe=mode == "pipe"
    )
    rec = tmp_path / "switch.stax"
    stax("import", "-q", str(data), "-o", str(rec))
    assert_totals_match(imported_off_cpu(rec, "mutex"), sched_switch_totals(data, pipe=mode == "pipe"))
    top = stax("top", "--off-cpu", "--comm", "mutex", str(rec)).stdout
    assert "lock_waiter" in top and "lock" in top  # stacks at switch-out and the reason from them


def test_switch_events_off_cpu_matches_perf_script(tmp_path: Path, perf_workloads: dict[str, Path]) -> None:
    data = perf_record(tmp_path / "switch-events.data", "--switch-events", "-g", str(perf_workloads["mutex"]))
    rec = tmp_path / "switch-events.stax"
    stax("import", "-q", str(data), "-o", str(rec))
    assert_totals_match(imported_off_cpu(rec, "mutex"), switch_record_totals(data))


def test_sched_waking_names_the_waker(tmp_path: Path, perf_workloads: dict[str, Path]) -> None:
    data = perf_record(
        tmp_path / "waking.data",
        "-a",
        "-e",
        "sched:sched_switch",
        "-e",
        "sched:sched_waking",
        "-g",
        str(perf_workloads["mutex"]),
    )
    rec = tmp_path / "waking.stax"
    stax("import", "-q", str(data), "-o", str(rec))
    threads = json.loads(stax("threads", "--json", str(rec)).stdout)["threads"]
    waiter = next(t for t in threads if t["name"] == "waiter")
    assert waiter["wakeups_received"] >= 10
    assert waiter["wakers"][0]["name"] == "holder", waiter["wakers"]
    wakers = stax("wakers", "--comm", "mutex", "-n", "-1", str(rec)).stdout
    woken = re.search(r"woken by holder-\d+ \(pid \d+\): (\d+) of (\d+) spans", wakers)
    assert woken and int(woken[1]) >= 10, wakers


def test_per_task_sched_switch_says_what_it_cannot_see(
    tmp_path: Path, perf_workloads: dict[str, Path]
) -> None:
    data = perf_record(tmp_path / "task.data", "-e", "sched:sched_switch", "-g", str(perf_workloads["mutex"]))
    result = stax("import", str(data), "-o", str(tmp_path / "task.stax"))
    assert re.search(
        r"stax: [\d,]+ switch-outs have no switch-in in the file, so those spans are missing "
        r"\(a per-task 'perf record -e sched:sched_switch' sees a thread come back only after "
        r"another recorded thread\); record with -a or --switch-events\.",
        result.stderr,
    ), result.stderr
