"""What this Linux host lets us capture, as capability rows with the reason and fix.

The rules are the kernel's (kernel/events/core.c, perf_event_open(2) "perf_event
related configuration files"): without CAP_PERFMON (or CAP_SYS_ADMIN),
kernel.perf_event_paranoid >= 2 allows only user-space measurement of one's own
processes, >= 1 forbids CPU-wide events, >= 0 forbids raw tracepoint data, and
Debian's 3 forbids everything.  kernel.kptr_restrict hides kernel symbol addresses.
Where a fact cannot be derived, we ask the kernel by opening a probe event.
"""

from __future__ import annotations

import errno
import os

import attrs

from stax.capabilities import Capability, CapabilityRow, CapabilityStatus
from stax_binfmt import perf_event_attr as pea
from stax_binfmt import tracefs
from stax_binfmt.linux_capabilities import effective_has
from stax_binfmt.perf_event_ffi import PerfEventError, perf_event_open
from stax_binfmt.procfs import read_int

PARANOID_FIX = "run 'sudo sysctl kernel.perf_event_paranoid=1', or install staxd once with 'sudo stax setup'"
SYSTEM_WIDE_FIX = ("run as root, 'sudo sysctl kernel.perf_event_paranoid=0', or install staxd with "
                   "'sudo stax setup'")


def _probe(type_: int, config: int, exclude_kernel: bool) -> int:
    """0 if the kernel lets us open this counting event on ourselves, else the errno."""
    try:
        fd = perf_event_open(pea.probe_attr(type_, config, exclude_kernel=exclude_kernel), 0, -1)
    except PerfEventError as exc:
        return exc.errno or errno.EIO
    os.close(fd)
    return 0


@attrs.frozen(slots=True)
class HostFacts:
    """The privilege-relevant facts about this host and process."""

    paranoid: int
    euid: int
    perfmon_capable: bool
    kptr_restrict: int
    tracefs_mounted: bool
    max_stack: int
    sampling_errno: int
    """0 if a user-only cpu-clock event on ourselves opens; else why not."""
    pmu_errno: int
    """0 if a hardware cycles event opens; ENOENT/ENODEV/EOPNOTSUPP mean no PMU."""

    @property
    def kernel_stacks_allowed(self) -> bool:
        return self.perfmon_capable or self.paranoid <= 1

    @property
    def system_wide_allowed(self) -> bool:
        return self.perfmon_capable or self.paranoid <= 0

    @property
    def has_pmu(self) -> bool:
        return self.pmu_errno not in (errno.ENOENT, errno.ENODEV, errno.EOPNOTSUPP)

    def paranoid_sentence(self) -> str:
        """The one sentence a user-only recording carries in its notes."""
        return (f"Kernel frames are missing because kernel.perf_event_paranoid is {self.paranoid}; "
                f"to record them, {PARANOID_FIX}.")


def probe_host() -> HostFacts:
    """Read the sysctls and capabilities, and try the probe events (a few ms)."""
    perfmon = effective_has("CAP_PERFMON", "CAP_SYS_ADMIN")
    paranoid = read_int("/proc/sys/kernel/perf_event_paranoid", 2)
    kernel_ok = perfmon or paranoid <= 1
    return HostFacts(
        paranoid=paranoid,
        euid=os.geteuid(),
        perfmon_capable=perfmon,
        kptr_restrict=read_int("/proc/sys/kernel/kptr_restrict", 1),
        tracefs_mounted=tracefs.mounted_at() is not None,
        max_stack=read_int("/proc/sys/kernel/perf_event_max_stack", 127),
        sampling_errno=_probe(pea.PERF_TYPE_SOFTWARE, pea.PERF_COUNT_SW_CPU_CLOCK, exclude_kernel=True),
        pmu_errno=_probe(pea.PERF_TYPE_HARDWARE, pea.PERF_COUNT_HW_CPU_CYCLES, exclude_kernel=not kernel_ok),
    )


def capability_rows(facts: HostFacts) -> list[CapabilityRow]:
    """One row per platform-table capability for this host."""
    ok = CapabilityStatus.AVAILABLE
    staxd = CapabilityStatus.VIA_STAXD
    no = CapabilityStatus.UNAVAILABLE
    rows: list[CapabilityRow] = []

    def row(cap: Capability, status: CapabilityStatus, reason: str = "", fix: str = "") -> None:
        rows.append(CapabilityRow(cap, status, reason, fix))

    if facts.sampling_errno:
        why = (f"perf_event_open is refused ({os.strerror(facts.sampling_errno)}); "
               f"kernel.perf_event_paranoid is {facts.paranoid}")
        for cap in (Capability.ON_CPU_SAMPLING, Capability.USER_STACKS, Capability.FRAME_POINTER_UNWINDING):
            row(cap, staxd, why, PARANOID_FIX)
    else:
        row(Capability.ON_CPU_SAMPLING, ok)
        row(Capability.USER_STACKS, ok)
        row(Capability.FRAME_POINTER_UNWINDING, ok)

    if not facts.kernel_stacks_allowed:
        row(Capability.KERNEL_STACKS, staxd,
            f"kernel.perf_event_paranoid is {facts.paranoid}; kernel stacks need <= 1 or CAP_PERFMON",
            PARANOID_FIX)
    elif facts.kptr_restrict >= 2 or (facts.kptr_restrict == 1 and not facts.perfmon_capable):
        row(Capability.KERNEL_STACKS, ok,
            f"kernel.kptr_restrict is {facts.kptr_restrict}, so kernel addresses will not be named",
            "run 'sudo sysctl kernel.kptr_restrict=0'")
    else:
        row(Capability.KERNEL_STACKS, ok)

    if facts.system_wide_allowed:
        row(Capability.SYSTEM_WIDE, ok)
    else:
        row(Capability.SYSTEM_WIDE, staxd,
            f"kernel.perf_event_paranoid is {facts.paranoid}; CPU-wide events need <= 0 or CAP_PERFMON",
            SYSTEM_WIDE_FIX)

    if not facts.has_pmu:
        row(Capability.PMU_COUNTERS, no,
            f"no hardware PMU on this host (perf_event_open for the cycles counter fails with "
            f"{errno.errorcode.get(facts.pmu_errno, facts.pmu_errno)}), so --counters records none",
            "run on bare metal or enable the virtual PMU in the hypervisor")
    elif facts.pmu_errno:
        row(Capability.PMU_COUNTERS, staxd,
            f"opening a hardware counter is refused ({os.strerror(facts.pmu_errno)})", PARANOID_FIX)
    elif not facts.kernel_stacks_allowed:
        row(Capability.PMU_COUNTERS, ok,
            f"stax record --counters; kernel.perf_event_paranoid is {facts.paranoid}, so without staxd the "
            f"counters count user mode only", PARANOID_FIX)
    else:
        row(Capability.PMU_COUNTERS, ok, "stax record --counters")

    # Off-CPU intervals come from PERF_RECORD_SWITCH, which a user gets for its own
    # processes even at paranoid 2 (a software dummy event with context_switch).
    if facts.sampling_errno:
        row(Capability.OFF_CPU_INTERVALS, staxd,
            f"perf_event_open is refused ({os.strerror(facts.sampling_errno)})", PARANOID_FIX)
        row(Capability.BLOCKED_REASON, staxd,
            f"perf_event_open is refused ({os.strerror(facts.sampling_errno)})", PARANOID_FIX)
    else:
        row(Capability.OFF_CPU_INTERVALS, ok)
        if not facts.kernel_stacks_allowed:
            # the switch-out stack needs a kernel-mode context-switches event
            row(Capability.BLOCKED_REASON, ok,
                f"kernel.perf_event_paranoid is {facts.paranoid}, so reasons come from /proc wchan read "
                f"every ~0.1 s (shorter waits show as 'other') and off-CPU intervals have no stacks",
                PARANOID_FIX)
        elif facts.kptr_restrict >= 2 or (facts.kptr_restrict == 1 and not facts.perfmon_capable):
            row(Capability.BLOCKED_REASON, ok,
                f"kernel.kptr_restrict is {facts.kptr_restrict}, so wait sites cannot be named from the "
                f"kernel stack and reasons come from /proc wchan",
                "run 'sudo sysctl kernel.kptr_restrict=0'")
        else:
            row(Capability.BLOCKED_REASON, ok)

    # Wakeups: sched:sched_waking is CPU-wide with raw data, and its tracefs id/format
    # files are root-only (0440), so only root opens it in-process.
    if facts.euid != 0:
        row(Capability.WAKEUP_ATTRIBUTION, staxd,
            "the sched:sched_waking tracepoint needs root (its tracefs files are root-only and the "
            "event is CPU-wide with raw data)",
            "run stax as root, or install staxd once with 'sudo stax setup'")
    elif not facts.tracefs_mounted:
        row(Capability.WAKEUP_ATTRIBUTION, ok,
            "tracefs is not mounted; stax mounts it at /sys/kernel/tracing when recording")
    else:
        row(Capability.WAKEUP_ATTRIBUTION, ok)

    if facts.sampling_errno:  # the register and stack dumps ride on the sampling event
        row(Capability.DWARF_UNWINDING, no,
            f"perf_event_open is refused ({os.strerror(facts.sampling_errno)})", PARANOID_FIX)
    else:
        row(Capability.DWARF_UNWINDING, ok, "stax record --call-graph dwarf[,SIZE]: for code built without "
            "frame pointers (stacks that stop early with fp)")
    return rows
