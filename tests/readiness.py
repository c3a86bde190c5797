"""Waiting for what a test can observe, with a deadline, instead of sleeping a guessed time.

A fixed sleep is too short on a loaded machine and wasted time on an idle one; these
helpers poll the thing itself (a process's program, a thread's state, its name) and
fail with a sentence naming what never happened.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], what: str, timeout: float = 10.0, interval: float = 0.01) -> T:
    """Poll ``condition`` until it returns something true and return that; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(interval)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:  # gone, or not there yet
        return ""


def _exe(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def wait_for_exec(pid: int, program: str | Path, timeout: float = 10.0) -> None:
    """Wait until process ``pid`` runs ``program`` (its exec is done: a fork or a wrapper such as
    setpriv or sh runs something else until then)."""
    real = os.path.realpath(program)
    wait_until(lambda: _exe(pid) == real, f"process {pid} exec'ing {real}", timeout)


def thread_state(pid: int, tid: int) -> str:
    """The one-letter state of a thread (proc(5) /proc/PID/task/TID/stat field 3), '' if gone."""
    stat = _read(f"/proc/{pid}/task/{tid}/stat")
    return stat.rsplit(")", 1)[1].split()[0] if stat else ""


def wait_until_sleeping(pid: int, tid: int, timeout: float = 10.0) -> None:
    """Wait until a thread is blocked in the kernel (state S or D)."""
    wait_until(lambda: thread_state(pid, tid) in ("S", "D"), f"thread {tid} of {pid} blocking", timeout)


def thread_names(pid: int) -> list[str]:
    """The names (comm) of every thread of ``pid``, sorted."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    return sorted(_read(f"/proc/{pid}/task/{tid}/comm").strip() for tid in tids)


def wait_for_thread_names(pid: int, names: list[str], timeout: float = 10.0) -> None:
    """Wait until the threads of ``pid`` are exactly ``names`` (each set by prctl or exec)."""
    wanted = sorted(names)
    wait_until(lambda: thread_names(pid) == wanted, f"process {pid} naming its threads {wanted}", timeout)
