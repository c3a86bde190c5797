"""staxd keeps only the capabilities granting needs, whether systemd or an administrator starts it.

The session daemon (conftest: the unit's bounding set, no_new_privs, memory-deny-write-
execute) and a daemon started by hand with full root both end up with exactly
RUNTIME_CAPABILITIES in every thread, and every other test in this directory is
served by such a daemon.  Started without a capability it needs, it refuses to start.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from stax_backend_linux.staxd_client.client import StaxdClient
from stax_binfmt.linux_capabilities import status_sets
from staxd_linux.privileges import RUNTIME_CAPABILITIES, mask_of, names_of
from tests.staxd_linux.conftest import StaxdProcess, as_nobody

RUNTIME = mask_of(RUNTIME_CAPABILITIES)


def _sets(path: str) -> dict[str, int]:
    return status_sets(Path(path, "status").read_text())


def _assert_dropped(pid: int) -> None:
    """Every thread of ``pid``: permitted = effective = bounding = the runtime set, nothing else."""
    tasks = os.listdir(f"/proc/{pid}/task")
    for tid in tasks:
        try:
            sets = _sets(f"/proc/{pid}/task/{tid}")
        except FileNotFoundError:  # a worker thread that ended since the listing
            continue
        assert names_of(sets["CapEff"]) == set(RUNTIME_CAPABILITIES), sets
        assert (sets["CapPrm"], sets["CapEff"], sets["CapBnd"]) == (RUNTIME, RUNTIME, RUNTIME)
        assert (sets["CapInh"], sets["CapAmb"], sets["NoNewPrivs"]) == (0, 0, 1)


def test_the_runtime_set_is_perfmon_and_bpf() -> None:
    """The documented set (docs/staxd.md): a change here must be a decision, not an accident."""
    assert RUNTIME_CAPABILITIES == ("CAP_PERFMON", "CAP_BPF")
    assert RUNTIME == 0xC0_0000_0000


def test_daemon_under_the_unit_keeps_only_the_runtime_capabilities(staxd: StaxdProcess) -> None:
    with StaxdClient(staxd.socket, timeout=5) as client:  # a connection thread exists meanwhile
        assert client.hello()["ok"]
        assert len(os.listdir(f"/proc/{staxd.pid}/task")) >= 2
        _assert_dropped(staxd.pid)
    assert "dropped privileges: keeping CAP_PERFMON CAP_BPF, no_new_privs" in staxd.log()


@pytest.fixture
def by_hand_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="staxd-by-hand-"))
    os.chmod(path, 0o755)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


def test_daemon_run_by_hand_as_root_mounts_tracefs_then_drops_root(by_hand_dir: Path) -> None:
    """Full root, in a mount namespace without tracefs: it mounts tracefs while starting (it could not
    later), keeps only the runtime set, and still grants sched_waking to a uid 65534 client."""
    unmount_tracefs = ("awk '$3 == \"tracefs\" {print $2}' /proc/self/mounts | sort -r | xargs -r -n1 umount;"
                       " grep -q ' tracefs ' /proc/self/mounts && exit 99; exec \"$@\"")
    launcher = ("unshare", "--mount", "--propagation", "private", "sh", "-c", unmount_tracefs, "sh")
    daemon = StaxdProcess(by_hand_dir, launcher=launcher)
    try:
        assert "mounted tracefs on /sys/kernel/tracing\n" in daemon.log()
        assert " tracefs " in Path(f"/proc/{daemon.pid}/mounts").read_text()
        _assert_dropped(daemon.pid)
        out = as_nobody("waking", daemon.socket, "0")
        assert all(d["event"] == "sched:sched_waking" for d in out["granted"])
        assert out["wakees"] == [out["child"]] and out["wakeups"] >= 5, out
    finally:
        daemon.stop()


@pytest.mark.parametrize(("bounding", "sentence"), [
    ("-all,+chown,+setpcap",
     "staxd: staxd started without CAP_PERFMON, which it needs to open events for its clients; start it as "
     "root with CAP_PERFMON in its capability bounding set (the unit 'stax setup' writes has it).\n"),
    ("-all,+perfmon,+bpf,+chown",
     "staxd: staxd cannot remove CAP_CHOWN from its capability bounding set (Operation not permitted); it "
     "needs CAP_SETPCAP while starting (the unit 'stax setup' writes has it).\n"),
])
def test_daemon_refuses_to_start_when_it_cannot_drop_to_the_runtime_set(by_hand_dir: Path, bounding: str,
                                                                        sentence: str) -> None:
    policy = by_hand_dir / "staxd.toml"
    policy.write_text('socket_group = "root"\n')
    proc = subprocess.run(["setpriv", "--bounding-set", bounding, sys.executable, "-m", "staxd_linux",
                           "--socket", str(by_hand_dir / "staxd.sock"), "--policy", str(policy)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr == sentence
