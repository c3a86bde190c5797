"""Run many ``stax`` view commands fast, each with a timeout and under a memory limit.

A subprocess per view costs ~0.5 s of start-up; instead a few worker processes
(``python -m tests.security.view_runner``) run the views in-process through
:func:`stax.cli.app.run`, exactly as the ``stax`` script does, and report one JSON
line per view: exit status, stdout, stderr, and the traceback of any exception that
escaped (what the user would have seen).  Each view gets an interval timer; the
worker's address space is capped (RLIMIT_AS) so a runaway allocation ends as a
MemoryError instead of taking the machine.  If a view wedges where the timer cannot
reach (inside C), the parent kills that worker, records the view as hung and
starts a new worker for the rest.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import attrs

REPO = Path(__file__).resolve().parents[2]
MEMORY_LIMIT = 1536 << 20
"""Bytes of address space per worker: a leak of 70 MB/s hits it within the timeout."""


@attrs.frozen
class ViewResult:
    argv: tuple[str, ...]
    rc: int | None
    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    """The traceback of an exception that escaped ``run`` (None: it returned)."""
    timed_out: bool = False
    seconds: float = 0.0


class ViewTimeout(BaseException):
    """Raised by the interval timer; a BaseException so no ``except Exception`` swallows it."""


def _on_alarm(signum, frame):  # noqa: ANN001
    raise ViewTimeout()


def _worker() -> None:
    """Read jobs (``[timeout, [argv, ...]]``) from stdin; one JSON line per view on stdout."""
    timeout, jobs = json.load(sys.stdin)
    report = os.fdopen(os.dup(1), "w", buffering=1)
    from stax.cli.app import run

    signal.signal(signal.SIGALRM, _on_alarm)
    for index, argv in enumerate(jobs):
        report.write(json.dumps({"start": index}) + "\n")
        out, err = io.StringIO(), io.StringIO()
        rc, error, timed_out = None, None, False
        started = time.perf_counter()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                signal.setitimer(signal.ITIMER_REAL, timeout)
                try:
                    rc = run(list(argv))
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
        except ViewTimeout:
            timed_out = True
        except BaseException:  # noqa: BLE001 - exactly what would reach the user as a traceback
            error = traceback.format_exc()
        report.write(json.dumps({
            "done": index, "rc": rc, "stdout": out.getvalue()[-200_000:], "stderr": err.getvalue(),
            "error": error, "timed_out": timed_out, "seconds": time.perf_counter() - started,
        }) + "\n")


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


class _Lane:
    """One worker and the jobs still to run in it."""

    def __init__(self, jobs: list[tuple[int, tuple[str, ...]]], timeout: float) -> None:
        self.jobs = jobs
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.current: int | None = None  # index into self.jobs of the view running now
        self.buffer = b""
        self.deadline = 0.0

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.security.view_runner"], cwd=REPO,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            preexec_fn=_limit_memory,
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps([self.timeout, [argv for _, argv in self.jobs]]).encode())
        self.proc.stdin.close()
        self.current = None
        self.buffer = b""
        self.deadline = time.monotonic() + self.timeout + 30  # start-up included

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def run_views(jobs: Sequence[Sequence[str]], timeout: float = 20.0, workers: int = 2) -> list[ViewResult]:
    """Run every argv (without the leading ``stax``); results in the order given."""
    indexed = [(i, tuple(argv)) for i, argv in enumerate(jobs)]
    results: dict[int, ViewResult] = {}
    lanes = [_Lane(indexed[w::workers], timeout) for w in range(workers)]
    selector = selectors.DefaultSelector()
    for lane in lanes:
        if lane.jobs:
            lane.start()
            selector.register(lane.proc.stdout, selectors.EVENT_READ, lane)
    while selector.get_map():
        now = time.monotonic()
        wait = max(0.0, min(lane.deadline for lane in lanes if lane.proc and lane.jobs) - now)
        events = selector.select(timeout=wait)
        ready = {key.data for key, _ in events}
        for lane in lanes:
            if not lane.jobs or lane.proc is None:
                continue
            if lane in ready:
                chunk = os.read(lane.proc.stdout.fileno(), 1 << 20)
                if chunk:
                    lane.buffer += chunk
                    while b"\n" in lane.buffer:
                        line, lane.buffer = lane.buffer.split(b"\n", 1)
                        _take(lane, json.loads(line), results)
                    if not lane.jobs:
                        selector.unregister(lane.proc.stdout)
                        lane.kill()
                    continue
                reason = "the worker died"  # EOF before every job reported: killed (e.g. RLIMIT)
            elif time.monotonic() >= lane.deadline:
                reason = "hung"
            else:
                continue
            selector.unregister(lane.proc.stdout)
            lane.kill()
            index = lane.current or 0
            job_id, argv = lane.jobs[index]
            results[job_id] = ViewResult(argv, None, error=f"{reason} (no report)",
                                         timed_out=reason == "hung")
            lane.jobs = lane.jobs[index + 1:]
            if lane.jobs:
                lane.start()
                selector.register(lane.proc.stdout, selectors.EVENT_READ, lane)
    return [results[i] for i in range(len(jobs))]


def _take(lane: _Lane, message: dict, results: dict[int, ViewResult]) -> None:
    if "start" in message:
        lane.current = message["start"]
        lane.deadline = time.monotonic() + lane.timeout + 10
        return
    index = message["done"]
    job_id, argv = lane.jobs[index]
    results[job_id] = ViewResult(argv, message["rc"], message["stdout"], message["stderr"],
                                 message["error"], message["timed_out"], message["seconds"])
    if index == len(lane.jobs) - 1:
        lane.jobs = []


if __name__ == "__main__":
    _worker()
