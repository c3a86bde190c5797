"""A real staxd (as root) on a temporary socket with a temporary policy, and a way to be uid 65534.

The daemon runs as systemd would start it, ``python -m staxd_linux --socket ...
--policy ...`` under the unit's capability bounding set, no_new_privs and memory-deny-write-execute, with
tracefs mounted (the unit pulls in sys-kernel-tracing.mount); its stderr (the grant/refuse log) goes to a
file the tests read.  Clients run as uid 65534 through ``setpriv``, with the group the
test chooses, so SO_PEERCRED sees a real unprivileged peer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stax.errors import CaptureError
from stax_backend_linux.staxd_client.client import StaxdClient
from stax_binfmt import tracefs
from staxd_linux.privileges import UNIT_CAPABILITIES

HERE = Path(__file__).resolve().parent
NOBODY = 65534
NOGROUP = 65534
USERS_GID = 100  # a group the test policy does not allow

DEFAULTS_POLICY = """\
allowed_groups = ["nogroup"]
socket_group = "nogroup"
socket_mode = "0666"   # so a client outside the group reaches the daemon's own check
client_timeout = 2.0
"""
"""The built-in defaults for what members may have; only who may connect differs."""
TEST_POLICY = DEFAULTS_POLICY + "allow_kernel_stacks = true  # off by default; most tests want them\n"

# The daemon runs with the capability bounding set, no_new_privs and MemoryDenyWriteExecute of the
# generated systemd unit, so every grant the tests see is one the installed service can make.
UNIT_SANDBOX = ["setpriv", "--no-new-privs", "--bounding-set",
                "-all," + ",".join("+" + c.removeprefix("CAP_").lower() for c in UNIT_CAPABILITIES),
                sys.executable, str(HERE / "deny_write_execute.py")]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="staxd runs as root")


class StaxdProcess:
    """A running daemon: its pid, socket and log."""

    def __init__(self, directory: Path, policy_text: str = TEST_POLICY,
                 launcher: tuple[str, ...] = tuple(UNIT_SANDBOX)) -> None:
        self.directory = directory
        self.socket = directory / "staxd.sock"
        self.policy = directory / "staxd.toml"
        self.policy.write_text(policy_text)
        self.log_path = directory / "staxd.log"
        self._log = open(self.log_path, "w")
        tracefs.ensure_mounted()  # as systemd's sys-kernel-tracing.mount does before the unit starts
        self.proc = subprocess.Popen(
            [*launcher, sys.executable, "-m", "staxd_linux", "--socket", str(self.socket),
             "--policy", str(self.policy)],
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.pid = self.proc.pid
        self.wait_ready()

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"staxd exited ({self.proc.returncode}): {self.log()}")
            try:
                with StaxdClient(self.socket, timeout=2) as client:
                    if client.hello()["ok"]:
                        return
            except CaptureError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"staxd did not answer hello within {timeout} s: {self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text()

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def connections(self) -> int:
        """Client connections the daemon still holds open.

        /proc/PID/net/unix lists each socket with its state and path: an accepted connection
        carries the listening socket's path in state 03 (SS_CONNECTED); the listener is 01 and
        a client's own socket has no path.
        """
        lines = Path(f"/proc/{self.pid}/net/unix").read_text().splitlines()[1:]
        return sum(1 for fields in map(str.split, lines)
                   if len(fields) == 8 and fields[7] == str(self.socket) and fields[5] == "03")

    def idle_fd_count(self, timeout: float = 5.0) -> int:
        """The fd count once no client is connected (a connection just closed may still be closing)."""
        deadline = time.monotonic() + timeout
        while (open_now := self.connections()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert open_now == 0, f"staxd still holds {open_now} connections after {timeout} s"
        return self.fd_count()

    def settled_fd_count(self, expected: int, timeout: float = 5.0) -> int:
        """The fd count once connection threads have finished closing (they may lag a few ms)."""
        deadline = time.monotonic() + timeout
        count = self.fd_count()
        while count != expected and time.monotonic() < deadline:
            time.sleep(0.02)
            count = self.fd_count()
        return count

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="session")
def staxd_dir() -> Iterator[Path]:
    """A directory uid 65534 can reach, outside pytest's basetemp: pytest resets its parent to 0700
    whenever another pytest session starts on this host, which would cut the client off mid-run."""
    path = Path(tempfile.mkdtemp(prefix="staxd-test-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def staxd(staxd_dir: Path) -> Iterator[StaxdProcess]:
    daemon = StaxdProcess(staxd_dir)
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def staxd_defaults() -> Iterator[StaxdProcess]:
    """A second daemon whose policy keeps the built-in defaults (kernel stacks off)."""
    path = Path(tempfile.mkdtemp(prefix="staxd-defaults-"))
    os.chmod(path, 0o755)
    daemon = StaxdProcess(path, DEFAULTS_POLICY)
    yield daemon
    daemon.stop()
    shutil.rmtree(path, ignore_errors=True)


def as_nobody(scenario: str, socket: Path, *args: str, gid: int = NOGROUP, timeout: float = 60,
              script: str = "nobody_client.py", env: dict[str, str] | None = None, uid: int = NOBODY) -> dict:
    """Run SCRIPT (nobody_client.py) SCENARIO as ``uid`` (65534) with primary group ``gid`` and no others."""
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "PYTHONPATH": str(HERE), **(env or {})}
    proc = subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
         sys.executable, str(HERE / script), scenario, str(socket), *args],
        capture_output=True, text=True, env=env, timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)
