"""host_capabilities: rows follow the kernel's perf_event_paranoid rules, each with reason and fix."""

from __future__ import annotations

import errno
from pathlib import Path

from stax.capabilities import Capability, CapabilityStatus
from stax_backend_linux.host_capabilities import HostFacts, capability_rows, probe_host
from stax_backend_linux.plugin import LinuxBackend


def _facts(**changes: object) -> HostFacts:
    base = dict(paranoid=2, euid=1000, perfmon_capable=False, kptr_restrict=0, tracefs_mounted=False,
                max_stack=127, sampling_errno=0, pmu_errno=errno.ENOENT)
    base.update(changes)
    return HostFacts(**base)  # type: ignore[arg-type]


def _rows(facts: HostFacts) -> dict[Capability, tuple[CapabilityStatus, str, str]]:
    return {r.capability: (r.status, r.reason, r.fix) for r in capability_rows(facts)}


def test_every_row_once_and_unavailable_rows_explain_themselves() -> None:
    for facts in (_facts(), _facts(paranoid=-1, euid=0, perfmon_capable=True, pmu_errno=0,
                                   tracefs_mounted=True), _facts(paranoid=3, sampling_errno=errno.EACCES)):
        rows = capability_rows(facts)
        assert sorted(r.capability for r in rows) == sorted(Capability)
        for row in rows:
            if row.status is not CapabilityStatus.AVAILABLE:
                assert row.reason and row.fix, row


def test_unprivileged_paranoid_2() -> None:
    rows = _rows(_facts())
    assert rows[Capability.ON_CPU_SAMPLING][0] is CapabilityStatus.AVAILABLE
    status, reason, fix = rows[Capability.KERNEL_STACKS]
    assert status is CapabilityStatus.VIA_STAXD
    assert "perf_event_paranoid is 2" in reason and "sudo sysctl kernel.perf_event_paranoid=1" in fix
    assert rows[Capability.SYSTEM_WIDE][0] is CapabilityStatus.VIA_STAXD
    assert "tracefs" in rows[Capability.WAKEUP_ATTRIBUTION][1]
    assert "no hardware PMU" in rows[Capability.PMU_COUNTERS][1]


def test_paranoid_1_allows_kernel_but_not_system_wide() -> None:
    rows = _rows(_facts(paranoid=1, kptr_restrict=1))
    status, reason, _fix = rows[Capability.KERNEL_STACKS]
    assert status is CapabilityStatus.AVAILABLE and "kptr_restrict" in reason
    assert rows[Capability.SYSTEM_WIDE][0] is CapabilityStatus.VIA_STAXD


def test_locked_down_host() -> None:
    rows = _rows(_facts(paranoid=3, sampling_errno=errno.EACCES, pmu_errno=errno.EACCES))
    assert rows[Capability.ON_CPU_SAMPLING][0] is CapabilityStatus.VIA_STAXD
    assert rows[Capability.PMU_COUNTERS][0] is CapabilityStatus.VIA_STAXD


def test_note_sentence() -> None:
    sentence = _facts(paranoid=2).paranoid_sentence()
    assert sentence.startswith("Kernel frames are missing because kernel.perf_event_paranoid is 2;")
    assert sentence.endswith("'sudo stax setup'.")


def test_this_host() -> None:
    facts = probe_host()
    expected = int(Path("/proc/sys/kernel/perf_event_paranoid").read_text())
    assert facts.paranoid == expected and facts.max_stack >= 1
    rows = {r.capability: r for r in LinuxBackend().capabilities()}
    assert rows[Capability.ON_CPU_SAMPLING].status is CapabilityStatus.AVAILABLE
    if facts.euid == 0:
        assert facts.perfmon_capable
        assert rows[Capability.KERNEL_STACKS].status is CapabilityStatus.AVAILABLE
        assert rows[Capability.SYSTEM_WIDE].status is CapabilityStatus.AVAILABLE


def test_off_cpu_rows_unprivileged() -> None:
    rows = _rows(_facts())
    assert rows[Capability.OFF_CPU_INTERVALS][0] is CapabilityStatus.AVAILABLE
    status, reason, fix = rows[Capability.BLOCKED_REASON]
    assert status is CapabilityStatus.AVAILABLE and "wchan" in reason and "paranoid" in fix
    status, reason, fix = rows[Capability.WAKEUP_ATTRIBUTION]
    assert status is CapabilityStatus.VIA_STAXD and "root" in reason and "sudo stax setup" in fix


def test_off_cpu_rows_root() -> None:
    rows = _rows(_facts(euid=0, perfmon_capable=True, tracefs_mounted=True))
    for cap in (Capability.OFF_CPU_INTERVALS, Capability.BLOCKED_REASON, Capability.WAKEUP_ATTRIBUTION):
        assert rows[cap] == (CapabilityStatus.AVAILABLE, "", ""), cap
    status, reason, _fix = _rows(_facts(euid=0, perfmon_capable=True))[Capability.WAKEUP_ATTRIBUTION]
    assert status is CapabilityStatus.AVAILABLE and "stax mounts it" in reason


def test_off_cpu_rows_locked_down() -> None:
    rows = _rows(_facts(paranoid=3, sampling_errno=errno.EACCES))
    assert rows[Capability.OFF_CPU_INTERVALS][0] is CapabilityStatus.VIA_STAXD
