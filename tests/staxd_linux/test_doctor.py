"""``stax doctor`` on this host: the PMU, tracefs, staxd and group rows say what is true, and why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stax.capabilities import Capability, CapabilityRow, CapabilityStatus, HostCheck
from stax_backend_linux.host_capabilities import probe_host
from stax_binfmt import tracefs
from staxd_linux import doctor_rows
from staxd_linux.doctor_rows import NO, OK, StaxdStatus, doctor_table
from tests.staxd_linux.conftest import NOBODY, NOGROUP, USERS_GID, StaxdProcess

STAX = str(Path(sys.executable).parent / "stax")


def _doctor(socket: Path, *args: str, gid: int = NOGROUP) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "STAXD_SOCKET": str(socket)}
    return subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={gid}", "--clear-groups", STAX, "doctor",
                           *args], capture_output=True, text=True, env=env, timeout=60)


def _rows(socket: Path, gid: int = NOGROUP) -> dict[str, dict[str, str]]:
    proc = _doctor(socket, "--json", gid=gid)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    report = json.loads(proc.stdout)
    assert report["platform"] == "linux" and report["backend"] == "linux-perf"
    return {row["capability"]: row for row in report["rows"]}


def _has_pmu() -> bool:
    return probe_host().has_pmu


def test_doctor_without_staxd() -> None:
    missing = Path(f"/tmp/no-staxd-{os.getpid()}.sock")
    rows = _rows(missing)
    if _has_pmu():
        pytest.skip("this host has a hardware PMU")
    pmu = rows["hardware PMU present"]
    assert pmu["status"] == "unavailable"
    assert pmu["reason"].startswith("no hardware PMU: perf_event_open for PERF_COUNT_HW_CPU_CYCLES fails "
                                    "with E")
    assert "PMU" in rows["PMU / hardware counters"]["reason"]
    assert rows["PMU / hardware counters"]["status"] == "unavailable"
    staxd = rows["staxd reachable"]
    assert staxd["status"] == "unavailable"
    assert staxd["reason"] == (f"staxd is not running (no daemon listens on {missing}); "
                               f"install and start it with 'sudo stax setup'")
    assert staxd["fix"] == "run 'sudo stax setup'"
    mounted = tracefs.mounted_at()
    assert rows["tracefs mounted"]["status"] == ("available" if mounted else "unavailable")
    paranoid = int(Path("/proc/sys/kernel/perf_event_paranoid").read_text())
    if paranoid >= 2:
        kernel = rows["kernel call stacks"]
        assert kernel["status"] == "unavailable"
        assert kernel["reason"].endswith("and staxd is not reachable")
        assert "sudo stax setup" in kernel["fix"]
        assert rows["kernel.perf_event_paranoid"]["status"] == "unavailable"
        assert rows["kernel.perf_event_paranoid"]["reason"].startswith(f"is {paranoid}: ")
    assert rows["stax group membership"]["status"] == "unavailable"


def test_socket_behind_a_closed_directory_is_named_as_such(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o700)
    rows = _rows(tmp_path / "staxd.sock")
    assert rows["staxd reachable"]["reason"] == (f"Cannot reach staxd's socket {tmp_path / 'staxd.sock'}: a "
                                                 f"directory above it is closed to you; use the default "
                                                 f"/run/staxd/staxd.sock or open that directory")


def test_doctor_with_staxd_running(staxd: StaxdProcess) -> None:
    rows = _rows(staxd.socket)
    assert rows["staxd reachable"]["status"] == "available"
    assert rows["staxd reachable"]["reason"] == f"staxd-linux 0.1.0 answers on {staxd.socket}"
    assert rows["stax group membership"] == {"capability": "stax group membership", "status": "available",
                                             "reason": "staxd accepts nobody", "fix": "", "kind": "host"}
    if int(Path("/proc/sys/kernel/perf_event_paranoid").read_text()) >= 2:
        assert rows["kernel call stacks"]["status"] == "via staxd"
        assert rows["kernel.perf_event_paranoid"]["status"] == "via staxd"
        # the test policy keeps allow_system_wide = false: staxd is up, but will not grant it
        system_wide = rows["system-wide recording"]
        assert system_wide["status"] == "unavailable"
        assert system_wide["reason"].endswith("and staxd's policy does not grant it to you")
        assert "allow_system_wide = true" in system_wide["fix"]
    if not _has_pmu():
        assert rows["hardware PMU present"]["status"] == "unavailable"  # staxd cannot conjure a PMU
    assert rows["tracefs mounted"]["status"] == ("available" if tracefs.mounted_at() else "unavailable")


def test_doctor_for_a_user_staxd_refuses(staxd: StaxdProcess) -> None:
    rows = _rows(staxd.socket, gid=USERS_GID)
    assert rows["staxd reachable"]["status"] == "available"
    group = rows["stax group membership"]
    assert group["status"] == "unavailable"
    assert group["reason"] == ("User nobody may not use staxd: join group 'nogroup' with 'sudo usermod -aG "
                               "nogroup nobody' and log in again")
    assert group["fix"] == "run 'sudo usermod -aG stax nobody', then log in again"


def test_doctor_table_is_one_table_without_traceback(staxd: StaxdProcess) -> None:
    proc = _doctor(staxd.socket)
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["CAPABILITY", "STATUS", "WHY", "/", "FIX"]
    for name in ("kernel call stacks", "hardware PMU present", "tracefs mounted", "staxd reachable",
                 "stax group membership", "kernel.perf_event_paranoid", "kernel.kptr_restrict"):
        assert sum(line.startswith(name + " ") for line in lines) == 1, name


@pytest.mark.parametrize("mounted", [True, False])
def test_tracefs_row_follows_the_mount_state(monkeypatch: pytest.MonkeyPatch, mounted: bool) -> None:
    """Both mount states, without unmounting the host's tracefs under other tests' feet."""
    monkeypatch.setattr(tracefs, "mounted_at", lambda: Path("/sys/kernel/tracing") if mounted else None)
    facts = probe_host()
    wakeup = CapabilityRow(Capability.WAKEUP_ATTRIBUTION, CapabilityStatus.UNAVAILABLE,
                           "tracefs is not mounted, so sched:sched_waking cannot be opened", "mount it")
    grants = {"tracepoints": True, "kernel_stacks": True}
    granting = StaxdStatus("/run/staxd/staxd.sock", hello={"version": "0.1.0", "grants": grants})
    absent = StaxdStatus("/run/staxd/staxd.sock", unreachable="staxd is not running.")
    with_staxd = {r.name: r for r in doctor_table([wakeup], granting, facts)}
    without = {r.name: r for r in doctor_table([wakeup], absent, facts)}
    assert isinstance(with_staxd["tracefs mounted"], HostCheck)
    assert isinstance(with_staxd["wakeup attribution"], CapabilityRow)  # typed rows, not copied names
    assert with_staxd["wakeup attribution"].capability is Capability.WAKEUP_ATTRIBUTION
    if mounted:
        assert with_staxd["tracefs mounted"].status is without["tracefs mounted"].status is OK
        assert with_staxd["tracefs mounted"].reason == "mounted at /sys/kernel/tracing"
    else:
        # staxd mounts tracefs only when it starts, so a running staxd cannot fill the gap
        row = with_staxd["tracefs mounted"]
        assert row.status is without["tracefs mounted"].status is NO
        assert row.reason == "not mounted, and staxd mounts it only when it starts"
        assert with_staxd["wakeup attribution"].status is NO
        assert without["tracefs mounted"].fix == "run 'sudo mount -t tracefs nodev /sys/kernel/tracing'"
    assert doctor_rows.tracefs.mounted_at is tracefs.mounted_at
