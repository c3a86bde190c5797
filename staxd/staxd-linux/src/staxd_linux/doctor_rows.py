"""``stax doctor`` on Linux: the backend's capability rows seen through staxd, plus the host checks.

The backend says what this process may open by itself, and marks "via staxd" what
only the broker could open.  Whether that is true depends on staxd actually
answering and on its policy for *this* user, which only this package can ask; so
here "via staxd" rows stay "via staxd" only when staxd answers and grants them,
and become "unavailable" (with the fix) otherwise.  The host checks name each
setting that decides a row, with the exact command that changes it.
"""

from __future__ import annotations

import errno
import os
import pwd
from collections.abc import Sequence
from typing import Any

import attrs

from stax.capabilities import Capability, CapabilityRow, CapabilityStatus, HostCheck
from stax.setup_plan import GROUP
from stax_backend_linux.host_capabilities import HostFacts, probe_host
from stax_backend_linux.staxd_client.client import StaxdClient, StaxdRefused, StaxdUnavailable
from stax_binfmt import tracefs
from stax_binfmt.staxd_protocol import default_socket_path
from staxd_linux.policy import DEFAULT_POLICY_PATH

OK = CapabilityStatus.AVAILABLE
STAXD = CapabilityStatus.VIA_STAXD
NO = CapabilityStatus.UNAVAILABLE
SETUP_FIX = "run 'sudo stax setup'"
TRACEFS_FIX = f"run '{tracefs.MOUNT_COMMAND}'"

# Which grant in staxd's hello reply a "via staxd" row depends on (None: being allowed to connect).
_GRANT_FOR: dict[Capability, str | None] = {
    Capability.KERNEL_STACKS: "kernel_stacks",
    Capability.SYSTEM_WIDE: "system_wide",
    Capability.WAKEUP_ATTRIBUTION: "tracepoints",
    Capability.PMU_COUNTERS: "counters",
}


@attrs.frozen(slots=True)
class StaxdStatus:
    """What staxd said to this user: its hello reply, or why there was none."""

    socket: str
    hello: dict[str, Any] | None = None
    unreachable: str = ""
    refused: str = ""

    @property
    def answers(self) -> bool:
        return self.hello is not None or bool(self.refused)

    def grants(self, name: str | None) -> bool:
        if self.hello is None:
            return False
        granted = self.hello.get("grants", {})
        return name is None or bool(granted.get(name))

    @property
    def policy_file(self) -> str:
        """The policy file staxd reads (or would read), as its hello says."""
        return str((self.hello or {}).get("policy_file") or DEFAULT_POLICY_PATH)


def ask_staxd(timeout: float = 2.0) -> StaxdStatus:
    """Say hello to staxd (socket from $STAXD_SOCKET or /run/staxd/staxd.sock)."""
    path = default_socket_path()
    try:
        with StaxdClient(path, timeout=timeout) as client:
            return StaxdStatus(str(path), hello=client.hello())
    except StaxdRefused as exc:
        return StaxdStatus(str(path), refused=str(exc))
    except StaxdUnavailable as exc:
        return StaxdStatus(str(path), unreachable=str(exc))
    except Exception as exc:  # doctor must always print its table
        return StaxdStatus(str(path), unreachable=f"staxd gave an unusable answer ({exc}).")


def _through_staxd(row: CapabilityRow, staxd: StaxdStatus, facts: HostFacts) -> CapabilityRow:
    """A backend row, corrected for whether staxd really answers and grants it to this user."""
    grant = _GRANT_FOR.get(row.capability)
    status, reason, fix = row.status, row.reason, row.fix
    tracefs_missing = row.capability is Capability.WAKEUP_ATTRIBUTION and not facts.tracefs_mounted
    if tracefs_missing and staxd.grants(grant):
        status = NO  # staxd mounts tracefs only while starting (it drops CAP_SYS_ADMIN), so not for us now
        reason = "tracefs is not mounted, and staxd mounts it only when it starts"
        fix = TRACEFS_FIX
    elif status is STAXD:
        if staxd.grants(grant):
            reason = f"{reason}; staxd opens it for you" if reason else "staxd opens it for you"
        elif staxd.hello is not None and grant == "kernel_stacks":
            status = NO
            reason = (f"{reason}, and staxd's policy turns kernel stacks off (kernel addresses would show "
                      f"every member the kernel's layout)")
            fix = (f"set allow_kernel_stacks = true in {staxd.policy_file} and restart staxd, or run "
                   f"'sudo sysctl kernel.perf_event_paranoid=1'")
        elif staxd.hello is not None:
            status = NO
            reason = f"{reason}, and staxd's policy does not grant it to you"
            if grant:
                fix = f"{fix}; or set allow_{grant} = true in {staxd.policy_file} and restart staxd"
        else:
            status = NO
            reason = f"{reason}, and staxd is not reachable"
    return attrs.evolve(row, status=status, reason=reason, fix=fix)


def _paranoid_row(facts: HostFacts, staxd: StaxdStatus) -> HostCheck:
    name = "kernel.perf_event_paranoid"
    p = facts.paranoid
    if facts.perfmon_capable:
        return HostCheck(name, OK, f"is {p}, but this process has CAP_PERFMON/CAP_SYS_ADMIN")
    if p <= 0:
        return HostCheck(name, OK, f"is {p}: kernel stacks and CPU-wide events are allowed in-process")
    what = ("no kernel stacks, CPU-wide events or tracepoints in-process" if p <= 2
            else "perf_event_open is refused in-process (Debian's level 3)")
    status = STAXD if staxd.grants(None) else NO
    if p == 1:
        what = "kernel stacks are allowed, CPU-wide events are not, in-process"
        status = STAXD if staxd.grants("system_wide") else NO
    return HostCheck(name, status, f"is {p}: {what}",
                     "run 'sudo sysctl kernel.perf_event_paranoid=1' (kernel stacks) or =0 (CPU-wide), or "
                     + SETUP_FIX)


def _kptr_row(facts: HostFacts) -> HostCheck:
    name = "kernel.kptr_restrict"
    k = facts.kptr_restrict
    fix = "run 'sudo sysctl kernel.kptr_restrict=0'"
    if k == 0:
        return HostCheck(name, OK, "is 0: /proc/kallsyms shows kernel addresses, so kernel frames get names")
    if k == 1 and facts.euid == 0:
        return HostCheck(name, OK, "is 1, but root may read kernel addresses")
    return HostCheck(name, NO, f"is {k}: /proc/kallsyms hides kernel addresses from you, so kernel frames"
                               f" stay unnamed", fix)


def _tracefs_row(staxd: StaxdStatus) -> HostCheck:
    name = "tracefs mounted"
    where = tracefs.mounted_at()
    if where is not None:
        return HostCheck(name, OK, f"mounted at {where}")
    if staxd.grants("tracepoints"):
        return HostCheck(name, NO, "not mounted, and staxd mounts it only when it starts", TRACEFS_FIX)
    return HostCheck(name, NO, "not mounted, so the sched:sched_waking tracepoint cannot be found",
                     TRACEFS_FIX)


def _pmu_row(facts: HostFacts) -> HostCheck:
    name = "hardware PMU present"
    if facts.has_pmu:
        return HostCheck(name, OK, "perf_event_open for PERF_COUNT_HW_CPU_CYCLES finds a PMU")
    code = errno.errorcode.get(facts.pmu_errno, str(facts.pmu_errno))
    return HostCheck(name, NO, f"no hardware PMU: perf_event_open for PERF_COUNT_HW_CPU_CYCLES fails with"
                               f" {code}",
                     "run on bare metal, or enable the virtual PMU in the hypervisor (e.g. QEMU '-cpu host')")


def _staxd_row(staxd: StaxdStatus) -> HostCheck:
    name = "staxd reachable"
    if staxd.hello is not None:
        answers = f"staxd-linux {staxd.hello.get('version', '?')} answers on {staxd.socket}"
        if staxd.hello.get("rate_limit") == "open-time":
            why = (f"{answers}, but it can hold max_frequency only when it opens events (BPF is unavailable "
                   f"to it), so a member can raise a granted sampling rate")
            return HostCheck(name, OK, why, "let staxd use bpf(2): a kernel with CONFIG_BPF_SYSCALL, and"
                                            " no seccomp filter or lockdown refusing it")
        return HostCheck(name, OK, answers)
    if staxd.refused:
        return HostCheck(name, OK, f"staxd answers on {staxd.socket}, but refuses you (see group membership)")
    return HostCheck(name, NO, staxd.unreachable.rstrip("."), SETUP_FIX)


def _user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _group_row(staxd: StaxdStatus) -> HostCheck:
    name = "stax group membership"
    user = _user()
    fix = f"run 'sudo usermod -aG {GROUP} {user}', then log in again"
    if os.getuid() == 0:
        return HostCheck(name, OK, "root may always use staxd")
    if staxd.hello is not None:
        return HostCheck(name, OK, f"staxd accepts {user}")
    if staxd.refused:
        return HostCheck(name, NO, staxd.refused.removeprefix("staxd refused: ").rstrip("."), fix)
    import grp

    try:
        group = grp.getgrnam(GROUP)
    except KeyError:
        return HostCheck(name, NO, f"group {GROUP!r} does not exist (staxd is not set up)", SETUP_FIX)
    if group.gr_gid in os.getgroups() or group.gr_gid == os.getgid():
        return HostCheck(name, OK, f"{user} is in group {GROUP!r}")
    if user in group.gr_mem:
        return HostCheck(name, NO, f"{user} was added to group {GROUP!r}, but this login session predates it",
                         "log out and in again (or run 'newgrp stax')")
    return HostCheck(name, NO, f"{user} is not in group {GROUP!r}", fix)


def doctor_table(rows: Sequence[CapabilityRow], staxd: StaxdStatus | None = None,
                 facts: HostFacts | None = None) -> list[CapabilityRow | HostCheck]:
    """The whole ``stax doctor`` table: capability rows (adjusted for staxd), then host checks."""
    staxd = staxd or ask_staxd()
    facts = facts or probe_host()
    table: list[CapabilityRow | HostCheck] = [_through_staxd(row, staxd, facts) for row in rows]
    table += [_paranoid_row(facts, staxd), _kptr_row(facts), _tracefs_row(staxd), _pmu_row(facts),
              _staxd_row(staxd), _group_row(staxd)]
    return table
