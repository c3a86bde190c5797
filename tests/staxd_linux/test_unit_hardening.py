"""The generated unit is hardened (``systemd-analyze security`` <= 3.0) and its sandbox fits the daemon.

PID 1 here is not systemd, so the unit cannot be started.  What can be checked
without it: systemd's own offline rating of the unit file; that every system call
a daemon makes while serving real grants (strace, under the unit's bounding set,
no_new_privs and memory-deny-write-execute) is in the unit's SystemCallFilter as
systemd expands it; and that it opens no socket but AF_UNIX
(RestrictAddressFamilies) and never calls mount (tracefs comes from
sys-kernel-tracing.mount).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from staxd_linux.privileges import UNIT_CAPABILITIES
from staxd_linux.systemd_units import service_unit
from tests.staxd_linux.conftest import UNIT_SANDBOX, StaxdProcess, as_nobody

MAX_EXPOSURE = 3.0
needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze missing (apt-get install systemd)")
needs_strace = pytest.mark.skipif(shutil.which("strace") is None,
                                  reason="strace missing (apt-get install strace)")


def _exposure(unit_text: str, directory: Path) -> float:
    unit = directory / "staxd.service"
    unit.write_text(unit_text)
    proc = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)],
                          capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for staxd\.service: (\d+\.\d+)", proc.stdout + proc.stderr)
    assert match, proc.stdout + proc.stderr
    return float(match[1])


@needs_analyze
def test_unit_exposure_is_at_most_3(tmp_path: Path) -> None:
    assert _exposure(service_unit(), tmp_path) <= MAX_EXPOSURE


@needs_analyze
def test_exposure_check_can_fail(tmp_path: Path) -> None:
    """The parse reads a real figure: the same unit without its [Service] hardening rates far worse."""
    text = service_unit()
    service = text.index("[Service]")
    kept = ("ExecStart=", "[Install]", "WantedBy=")
    bare = text[:service] + "[Service]\nType=simple\n" + "\n".join(
        line for line in text[service:].splitlines() if line.startswith(kept))
    assert _exposure(bare, tmp_path) > 9.0


def test_unit_bounding_set_is_the_documented_one() -> None:
    assert f"\nCapabilityBoundingSet={' '.join(UNIT_CAPABILITIES)}\n" in service_unit()
    assert UNIT_CAPABILITIES == ("CAP_PERFMON", "CAP_BPF", "CAP_CHOWN", "CAP_SETPCAP")


def _syscall_groups() -> dict[str, list[str]]:
    listing = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True,
                             timeout=60, check=True).stdout
    groups: dict[str, list[str]] = {}
    current: list[str] = []
    for line in listing.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.split()[0], [])
        elif line.strip() and not line.strip().startswith("#"):
            current.append(line.strip())
    return groups


def _expand(word: str, groups: dict[str, list[str]]) -> set[str]:
    if not word.startswith("@"):
        return {word}
    return set().union(*(_expand(w, groups) for w in groups[word]))


def allowed_syscalls(unit_text: str) -> set[str]:
    """The allow-list the unit's SystemCallFilter= lines make (systemd.exec(5): the first line is an
    allow-list, later ``~`` lines remove from it)."""
    groups = _syscall_groups()
    allowed: set[str] = set()
    lines = re.findall(r"^SystemCallFilter=(.*)$", unit_text, re.M)
    assert lines and not lines[0].startswith("~"), "the unit must have a SystemCallFilter allow-list"
    for line in lines:
        words = set().union(*(_expand(w, groups) for w in line.removeprefix("~").split()))
        allowed = allowed - words if line.startswith("~") else allowed | words
    return allowed


def _daemon_pid(strace_pid: int) -> int:
    children = Path(f"/proc/{strace_pid}/task/{strace_pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


@needs_analyze
@needs_strace
def test_every_system_call_of_a_serving_daemon_is_in_the_units_filter(staxd_dir: Path,
                                                                      tmp_path: Path) -> None:
    directory = staxd_dir / "strace"
    directory.mkdir()
    trace = tmp_path / "staxd.strace"
    daemon = StaxdProcess(directory, launcher=(*UNIT_SANDBOX, "strace", "-f", "-qq", "-o", str(trace)))
    try:
        assert as_nobody("hello", daemon.socket)["ok"]
        assert as_nobody("sample", daemon.socket)["granted"]
        assert as_nobody("waking", daemon.socket, "0")["granted"]
        assert not as_nobody("request", daemon.socket, '{"kind": "sampling", "pids": [1]}')["ok"]
        as_nobody("raw", daemon.socket, "not json")
        as_nobody("request", daemon.socket, '{"kind": "counters", "pids": [1]}')
    finally:
        pid = _daemon_pid(daemon.pid)
        subprocess.run(["kill", "-TERM", str(pid)], check=True)
        with contextlib.suppress(subprocess.TimeoutExpired):
            daemon.proc.wait(10)  # strace exits with the daemon; stop() kills it if not
        daemon.stop()
    assert "stopped" in daemon.log()
    calls = re.findall(r"^\d+\s+([a-z0-9_]+)\(", trace.read_text(), re.M)
    used = set(calls)
    assert {"perf_event_open", "capset", "sendmsg", "recvmsg"} <= used, sorted(used)
    assert used - allowed_syscalls(service_unit()) == set()
    families = set(re.findall(r"^\d+\s+socket(?:pair)?\((AF_\w+)", trace.read_text(), re.M))
    assert families == {"AF_UNIX"}
    assert "mount" not in used
