"""staxd grants an unprivileged client (uid 65534, perf_event_paranoid=2) what it cannot open itself.

The proof is the data: the client maps the granted fds, enables them and finds
kernel call chains in PERF_RECORD_SAMPLEs (and wakeups of its own child in the
sched_waking raw data), while the same opens in-process fail with EACCES.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest

from stax_binfmt import perf_counters, perf_event_sets, tracefs
from stax_binfmt.perf_event_ffi import PerfEventError, perf_event_open
from stax_binfmt.staxd_protocol import OpenRequest
from staxd_linux.authorization import Plan
from staxd_linux.event_sets import open_plan
from tests.staxd_linux.conftest import NOBODY, StaxdProcess, as_nobody

PARANOID = int(Path("/proc/sys/kernel/perf_event_paranoid").read_text())
needs_paranoid_2 = pytest.mark.skipif(PARANOID < 2, reason="needs kernel.perf_event_paranoid >= 2")


@needs_paranoid_2
def test_unprivileged_client_gets_kernel_stacks_through_staxd(staxd: StaxdProcess) -> None:
    out = as_nobody("sample", staxd.socket)
    cpus = len(os.sched_getaffinity(0))
    granted = out["granted"]
    assert len(granted) == cpus  # one event per (thread, CPU): the child has one thread
    assert {d["cpu"] for d in granted} == set(range(cpus))
    assert all(d["kind"] == "sampling" and d["event"] == "cpu-clock" and d["kernel"] for d in granted)
    assert all(d["pid"] == d["tid"] == out["child"] for d in granted)
    via_staxd = out["staxd"]
    # ~0.6 s at 499 Hz of a child that lives in read(2) of /dev/zero: most samples are kernel-side.
    assert via_staxd["samples"] >= 100, via_staxd
    assert via_staxd["with_kernel_frames"] >= 0.5 * via_staxd["samples"], via_staxd
    # Without staxd: kernel mode is refused outright, and a user-only event has no kernel frames.
    assert out["in_process_kernel_errno"] == "EACCES"
    assert out["in_process_user_only"]["with_kernel_frames"] == 0
    log = staxd.log()
    assert re.search(rf"grant uid={NOBODY}\(nobody\) gid=65534 pid=\d+ kind=sampling pids={out['child']} "
                     rf"cpus=all kernel_stacks=yes frequency=499 call_graph=fp start=disabled fds={cpus}",
                     log)


@needs_paranoid_2
def test_sched_waking_is_granted_and_tracefs_mounted_on_demand(staxd: StaxdProcess) -> None:
    was_mounted = tracefs.mounted_at() is not None
    out_first = as_nobody("hello", staxd.socket)
    assert out_first["ok"] and out_first["reply"]["grants"]["tracepoints"] is True
    # The client cannot read tracefs, so the test (root) looks the id up after the daemon mounted it.
    out = as_nobody("waking", staxd.socket, "0")
    root = tracefs.mounted_at()
    assert root is not None
    if not was_mounted:
        assert f"mounted tracefs on {root} for a sched_waking request" in staxd.log()
    granted = out["granted"]
    assert [d["cpu"] for d in granted] == list(range(len(granted)))
    assert all(d["event"] == "sched:sched_waking" and d["pid"] == -1 for d in granted)
    assert granted[0]["raw_fields"]["pid"][1:] == [4, True]  # pid_t, signed
    # 1 s of pipe wakeups every ~2 ms: about 450 on an idle host, fewer when the host is
    # saturated (other test suites); every one of them is of the child: the wakee filter works.
    assert out["wakeups"] >= 5, out
    assert out["wakees"] == [out["child"]]
    tp_id = tracefs.tracepoint_id(root, "sched", "sched_waking")
    again = as_nobody("waking", staxd.socket, str(tp_id))
    assert again["in_process_errno"] in ("EACCES", "EPERM")


def test_counter_group_refused_without_pmu(staxd: StaxdProcess) -> None:
    try:
        cycles = perf_counters.COUNTER_GROUP[0]
        os.close(perf_event_open(perf_event_sets.counter(cycles, leader=True, kernel=False, inherit=False,
                                                         start="disabled"), 0, -1))
        pytest.skip("this host has a hardware PMU")
    except PerfEventError as exc:
        assert exc.errno in (errno.ENOENT, errno.ENODEV, errno.EOPNOTSUPP)
    out = as_nobody("request", staxd.socket, '{"kind": "counters", "pids": [1]}')
    assert out["ok"] is False
    assert "belongs to uid 0" in out["error"]  # ownership is checked before the PMU
    out = as_nobody("request", staxd.socket, f'{{"kind": "counters", "pids": [{os.getpid()}]}}')
    assert "belongs to uid 0" in out["error"]
    # Root's own process: the ownership check passes, the PMU is what is missing.
    from stax_backend_linux.staxd_client.client import StaxdClient

    with StaxdClient(staxd.socket) as client:
        with pytest.raises(Exception, match=r"No hardware PMU on this host \(perf_event_open for the cycles "
                                            r"counter fails with (ENOENT|ENODEV|EOPNOTSUPP)\)\."):
            client.open_events(OpenRequest(kind="counters", pids=(os.getpid(),)))
    assert staxd.alive()


def test_counter_group_layout_with_software_stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PMU here, so prove the group shape (leader, members, GROUP|ID|TIMES read, inherit) with
    software counters standing in for the hardware ones."""
    stand_ins = (
        perf_counters.CounterSpec("task-clock", "task-clock", 1, 1),
        perf_counters.CounterSpec("page-faults", "page-faults", 1, 2),
        perf_counters.CounterSpec("context-switches", "context-switches", 1, 3),
        perf_counters.CounterSpec("cpu-migrations", "cpu-migrations", 1, 4),
    )
    monkeypatch.setattr(perf_counters, "COUNTER_GROUP", stand_ins)
    request = OpenRequest(kind="counters", pids=(os.getpid(),), start="enabled")
    plan = Plan(request=request, kernel=True, user_stacks=True, cpus=(0,),
                threads={os.getpid(): [os.getpid()]})
    granted = open_plan(plan, lambda line: None)
    try:
        assert [d.event for _, d in granted] == ["task-clock", "page-faults", "context-switches",
                                                 "cpu-migrations"]
        assert [d.group for _, d in granted] == [0, 0, 0, 0]
        assert all(d.read_format == perf_counters.COUNTER_READ_FORMAT and d.cpu == -1 for _, d in granted)
        sum(range(200000))
        # PERF_FORMAT_GROUP|ID|TOTAL_TIME_ENABLED|TOTAL_TIME_RUNNING: nr, enabled, running, {value, id}[nr]
        data = os.read(granted[0][0], 8 * (3 + 2 * 4))
        words = [int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data), 8)]
        nr, enabled, running = words[:3]
        assert nr == 4 and enabled > 0 and running > 0
        ids = words[4::2]
        assert ids == [d.event_id for _, d in granted]
        assert words[3] > 0  # task-clock ns
    finally:
        for fd, _ in granted:
            os.close(fd)
