"""With staxd's default policy a member gets no kernel address, and still records user stacks, off-CPU
spans and wakeups.

kernel.kptr_restrict may be 0 on a host; a kernel address handed to every member of group stax
would still give away the kernel's layout (KASLR).  So ``allow_kernel_stacks`` is off by default,
and the off-CPU events staxd grants without it (context switches, sched_waking) lose their IP and
the kernel part of their call chains instead of being refused.

The proof is the raw ring data: ring_client.py (as uid 65534) asks for the event sets exactly as
``stax record`` does, maps them into per-CPU rings, and reports every IP and call-chain entry of
every PERF_RECORD_SAMPLE.  With the policy switch on, the same client does find kernel addresses,
so the scan can see them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from stax.recording import sample_sql
from staxd_linux.policy import DEFAULT_POLICY_TEXT, Policy, parse_policy
from tests.staxd_linux.conftest import StaxdProcess, as_nobody
from tests.staxd_linux.test_doctor import _rows as _doctor_rows
from tests.staxd_linux.test_record_via_staxd import contents, dirs, loss_lines, record_as_nobody  # noqa: F401 (dirs)

PARANOID = int(Path("/proc/sys/kernel/perf_event_paranoid").read_text())
needs_paranoid_2 = pytest.mark.skipif(PARANOID < 2, reason="needs kernel.perf_event_paranoid >= 2")


def test_kernel_stacks_are_off_by_default() -> None:
    assert Policy().allow_kernel_stacks is False
    assert parse_policy(DEFAULT_POLICY_TEXT).allow_kernel_stacks is False
    assert Policy().grants(root=False)["kernel_stacks"] is False
    assert Policy().grants(root=True)["kernel_stacks"] is True


@needs_paranoid_2
def test_default_policy_hands_a_member_no_kernel_address(staxd_defaults: StaxdProcess) -> None:
    out = as_nobody("addresses", staxd_defaults.socket, script="ring_client.py")
    # Every event set stax record asks staxd for is granted: sampling (user mode), the context
    # switches with their switch-out stacks, and sched_waking.
    assert out["granted"] == {"sampling": True, "context_switch": True, "sched_waking": True}, out
    assert out["samples"] >= 100, out
    assert out["callchain_entries"] >= 100, out  # user stacks are there
    assert out["kernel_addresses"] == 0, out


@needs_paranoid_2
def test_with_kernel_stacks_allowed_the_scan_does_find_kernel_addresses(staxd: StaxdProcess) -> None:
    """The same client under allow_kernel_stacks = true: the scan above is able to see them."""
    out = as_nobody("addresses", staxd.socket, script="ring_client.py")
    assert out["granted"] == {"sampling": True, "context_switch": True, "sched_waking": True}, out
    assert out["kernel_addresses"] >= 10, out


@needs_paranoid_2
@pytest.mark.skipif(shutil.which("setpriv") is None or shutil.which("gcc") is None,
                    reason="needs setpriv and gcc")
def test_record_with_the_default_policy_has_user_stacks_off_cpu_spans_and_wakeups(
        staxd_defaults: StaxdProcess, dirs: tuple[Path, Path]) -> None:  # noqa: F811
    exe, out_dir = dirs
    out = out_dir / "defaults.stax"
    proc = record_as_nobody(exe, out, staxd_defaults.socket)
    got = contents(out)
    meta = got["meta"]
    assert isinstance(meta, dict)
    assert meta["backend.event_sets"] == {"sampling": "in-process", "context_switch": "staxd",
                                          "sched_waking": "staxd"}
    assert meta["backend.kernel_stacks"] is False
    assert got["samples"] >= 100, got  # type: ignore[operator]
    assert got["kernel_samples"] == 0, got
    assert got["wakeups"] >= 20, got  # type: ignore[operator]
    db = sample_sql.connect(out)  # the off_cpu_spans view decodes blocks through it
    try:
        spans, with_stacks = db.execute("SELECT count(*), sum(stack_id >= 0) FROM off_cpu_spans").fetchone()
        kernel_frames = db.execute("SELECT count(*) FROM frames WHERE is_kernel = 1").fetchone()[0]
    finally:
        db.close()
    assert spans >= 20 and with_stacks >= 20, (spans, with_stacks)  # the switch-out user stacks
    assert kernel_frames == 0
    (line,) = loss_lines(proc.stderr)
    assert line == (f"stax: Kernel frames are missing because kernel.perf_event_paranoid is {PARANOID} and "
                    f"staxd's policy turns kernel stacks off; to record them, set allow_kernel_stacks = true "
                    f"in {staxd_defaults.policy} and restart staxd, or run 'sudo sysctl "
                    f"kernel.perf_event_paranoid=1'.")
    assert re.search(r"grant uid=65534\(nobody\) .* kind=sched_waking .*kernel_stacks=no",
                     staxd_defaults.log())



@needs_paranoid_2
def test_doctor_says_kernel_stacks_are_off_by_policy_and_how_to_turn_them_on(
        staxd_defaults: StaxdProcess) -> None:
    rows = _doctor_rows(staxd_defaults.socket)
    kernel = rows["kernel call stacks"]
    assert kernel["status"] == "unavailable"
    assert kernel["reason"] == (f"kernel.perf_event_paranoid is {PARANOID}; kernel stacks need <= 1 or "
                                f"CAP_PERFMON, and staxd's policy turns kernel stacks off (kernel addresses "
                                f"would show every member the kernel's layout)")
    assert kernel["fix"] == (f"set allow_kernel_stacks = true in {staxd_defaults.policy} and restart staxd, "
                             f"or run 'sudo sysctl kernel.perf_event_paranoid=1'")
    # wakeups no longer depend on kernel stacks
    assert rows["wakeup attribution"]["status"] == "via staxd"
