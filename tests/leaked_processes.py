"""Find and kill the processes a test started and left running.

A test that fails half-way can leave its `stax record` or its spinning workload behind;
on 2 cores one leaked spinner skews every share and timing test that runs after it.
Each test's body runs with a marker in its environment, which every child inherits
(tests that pass their own `env=` build it from os.environ); after the test's teardown,
any process still carrying that test's marker is killed and named in the summary.
Processes that fixtures start before the test body (a session's staxd, a debuginfod
server) carry no marker, so they are left alone.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

MARKER = "STAX_TEST_PROCESS_MARKER"


def _environ_has(pid: int, needle: bytes) -> bool:
    try:
        return needle in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone, or a kernel thread
        return False


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:120] or "?"


def mark(token: str) -> None:
    """Put the test's marker in this process's environment, for its children."""
    os.environ[MARKER] = token


def unmark() -> None:
    os.environ.pop(MARKER, None)


def kill_marked(token: str) -> list[str]:
    """Kill every other process whose environment holds the marker; return their command lines."""
    if not Path("/proc/self/environ").exists():
        return []
    needle = f"{MARKER}={token}".encode()
    me = os.getpid()
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        pid = int(entry.name)
        if _environ_has(pid, needle):
            cmd = _cmdline(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                continue
            killed.append(f"{pid} {cmd}")
    return killed
