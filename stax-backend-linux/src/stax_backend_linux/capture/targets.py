"""What to profile, and opening one sampling event per (thread, CPU) for it.

Three shapes, all ending in one ring buffer per CPU:

* a command: fork a child that blocks on a pipe, open per-CPU events on its pid with
  ``enable_on_exec`` + ``inherit`` (so sampling starts exactly at exec and follows
  every thread and forked child), then let it exec.  An exec failure comes back
  through a CLOEXEC pipe: EOF means exec succeeded.  The child asks for SIGKILL
  when stax dies (``PR_SET_PDEATHSIG``), so ``kill -9`` of stax does not leave the
  profiled program running on unwatched (see :class:`CommandTarget`).
* ``-p PID,...``: every existing thread x every CPU, each event ``inherit`` so new
  threads are followed; PERF_EVENT_IOC_SET_OUTPUT sends each CPU's events into the
  ring of the first one on that CPU.
* ``-a``: pid = -1 on every CPU (perf_event_open(2): "measures all processes/threads
  on the specified CPU").
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

from stax import target_exit
from stax.errors import CaptureError, UsageError
from stax_binfmt.perf_event_ffi import PerfEventError, perf_event_open, set_output
from stax_binfmt.procfs import thread_group, thread_ids

AttrFactory = Callable[[], Any]

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_libc = ctypes.CDLL(None, use_errno=True)  # loaded here, not in the forked child


def _close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class PerCpuEvents:
    """The event fds of one capture: ``leaders[i]`` owns CPU ``cpus[i]``'s ring, the rest follow it."""

    def __init__(self, cpus: list[int]) -> None:
        self.cpus = cpus
        self.leaders: list[int] = []
        self.followers: list[list[int]] = []

    def all_fds(self) -> list[int]:
        return self.leaders + [fd for group in self.followers for fd in group]

    def redirect_followers(self) -> None:
        """SET_OUTPUT every follower into its CPU's leader (the leader must be mmapped first)."""
        for leader, group in zip(self.leaders, self.followers, strict=True):
            for fd in group:
                set_output(fd, leader)

    def close(self) -> None:
        _close_all(self.all_fds())
        self.leaders, self.followers = [], []


def open_task_events(make_attr: AttrFactory, tids: Sequence[int], cpus: list[int]) -> PerCpuEvents:
    """Open one event per (tid, cpu); tids that have exited meanwhile are skipped.

    Raises PerfEventError from the first failure that is not ESRCH (e.g. EACCES).
    """
    events = PerCpuEvents(cpus)
    try:
        for cpu in cpus:
            opened: list[int] = []
            for tid in tids:
                try:
                    opened.append(perf_event_open(make_attr(), tid, cpu))
                except PerfEventError as exc:
                    if exc.errno != errno.ESRCH:
                        raise
            if not opened:
                raise PerfEventError(errno.ESRCH, f"perf_event_open(pid={tids[0] if tids else -1})")
            events.leaders.append(opened[0])
            events.followers.append(opened[1:])
    except BaseException:
        events.close()
        raise
    return events


def open_system_wide(make_attr: AttrFactory, cpus: list[int]) -> PerCpuEvents:
    """One pid=-1 event per CPU."""
    events = PerCpuEvents(cpus)
    try:
        for cpu in cpus:
            events.leaders.append(perf_event_open(make_attr(), -1, cpu))
            events.followers.append([])
    except BaseException:
        events.close()
        raise
    return events


def check_pids(pids: Sequence[int]) -> None:
    """Reject pids that do not exist with one sentence."""
    for pid in pids:
        if pid <= 0 or not os.path.isdir(f"/proc/{pid}"):
            raise UsageError(f"No process with pid {pid} exists; check the pid (for example with ps) "
                             f"and try again.")


def thread_pids(tids: Sequence[int]) -> tuple[int, ...]:
    """The processes ``-t`` threads belong to; UsageError for a thread that does not exist."""
    pids = []
    for tid in tids:
        pid = thread_group(tid)
        if pid is None:
            raise UsageError(f"No thread with id {tid} exists; check the id (for example with ps -eLf)"
                             " and try again.")
        pids.append(pid)
    return tuple(dict.fromkeys(pids))


def target_threads(pids: Sequence[int], tids: Sequence[int]) -> list[tuple[int, int]]:
    """(pid, tid) of every thread to record: the ``-t`` threads, else every thread of the pids."""
    if tids:
        return [(thread_group(tid) or tid, tid) for tid in tids]
    return [(pid, tid) for pid in pids for tid in threads_of([pid])]


def threads_of(pids: Sequence[int]) -> list[int]:
    """Every thread of every pid (a pid that vanished contributes nothing)."""
    tids: list[int] = []
    for pid in pids:
        tids.extend(thread_ids(pid) or [pid])
    return tids


def resolve_command(argv: Sequence[str]) -> str:
    """The executable path for ``argv[0]``, or UsageError with the fix."""
    if not argv:
        raise UsageError("No command given; put the program to profile after '--'.")
    name = argv[0]
    found = shutil.which(name)
    if found is None:
        if "/" in name and os.path.exists(name):
            raise UsageError(f"Command {name!r} is not executable; check its permissions (chmod +x).")
        raise UsageError(f"Command {name!r} not found; check the spelling or give its full path.")
    return found


class CommandTarget:
    """A child process held just before exec until its events are open.

    The child dies with stax: it sets ``PR_SET_PDEATHSIG`` to SIGKILL before exec (the
    setting survives exec), so when stax is killed (``kill -9``, the OOM killer) the
    kernel kills the program too instead of leaving it orphaned.  SIGKILL, not SIGTERM:
    a program can ignore SIGTERM and run on, which is the very case to prevent, and
    stax can no longer wait a grace period and escalate as :meth:`terminate` does.
    perf leaves its workload running in that case; for a profiler that starts a
    program only to record it, ending it is the safer default.  Limits: the signal
    follows the *thread* that forked (the main thread here, which lives as long as
    stax), the kernel drops it when the program execs a set-user-id binary, and the
    program's own children are not covered (as with SIGTERM on a normal stop).
    If stax died before the prctl, ``getppid()`` no longer names it and the child exits.
    """

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.path = resolve_command(self.argv)
        self.pid = 0
        self.pidfd = -1
        self.exit_status: int | None = None
        self.stopped = False
        """True once :meth:`terminate` had to end the command (it had not exited on its own)."""
        self._go_w = -1
        self._err_r = -1

    def start(self) -> int:
        """Fork the child; it waits for :meth:`release`.  Returns its pid."""
        go_r, go_w = os.pipe()
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # child: wait for the go byte, then exec; any failure goes to err_w
            try:
                _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # fails only for a bad signal
                if os.getppid() != parent:
                    os._exit(127)  # stax died before the prctl: nobody would stop the program
                os.close(go_w)
                os.close(err_r)
                if os.read(go_r, 1) != b"g":
                    os._exit(127)  # the parent gave up (or died): never run the program
                os.close(go_r)
                # Python ignores SIGPIPE/SIGXFSZ; ignored signals survive exec (signal(7)).
                for sig in (signal.SIGPIPE, signal.SIGXFSZ):
                    signal.signal(sig, signal.SIG_DFL)
                os.execv(self.path, self.argv)
            except OSError as exc:
                os.write(err_w, str(exc.errno or errno.ENOEXEC).encode())
            except BaseException:
                os.write(err_w, str(errno.ENOEXEC).encode())
            finally:
                os._exit(127)
        os.close(go_r)
        os.close(err_w)
        self.pid, self._go_w, self._err_r = pid, go_w, err_r
        try:
            self.pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.pidfd = -1  # kernels before 5.3: fall back to polling waitpid
        return pid

    def release(self) -> None:
        """Let the child exec; raise UsageError if exec failed."""
        os.write(self._go_w, b"g")
        os.close(self._go_w)
        self._go_w = -1
        report = b""
        while chunk := os.read(self._err_r, 64):  # EOF: the CLOEXEC end closed at exec
            report += chunk
        os.close(self._err_r)
        self._err_r = -1
        if report:
            self.wait()
            err = int(report or errno.ENOEXEC)
            if err in (errno.ENOENT, errno.ENOTDIR):
                raise UsageError(f"Command {self.argv[0]!r} not found; check the spelling or give its "
                                 f"full path.")
            raise UsageError(f"Cannot run {self.argv[0]!r} ({os.strerror(err)}); check that it is a program "
                             f"for this machine and executable.")

    def poll_exited(self) -> bool:
        """True once the child has exited (it is then reaped and ``exit_code`` is set)."""
        if self.exit_status is not None:
            return True
        if self.pid == 0:
            return True
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped by someone else (SIGCHLD set to SIG_IGN): status unknown
            self.pid, self.exit_status = 0, None
            return True
        if pid == 0:
            return False
        self.exit_status = status
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Reap the child, waiting at most ``timeout`` seconds; True if it has exited."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.poll_exited():
            if deadline is None:
                try:
                    _pid, self.exit_status = os.waitpid(self.pid, 0)
                except ChildProcessError:
                    self.pid = 0
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def terminate(self, grace: float = 3.0) -> None:
        """SIGTERM the child, SIGKILL it after ``grace`` seconds, and reap it."""
        if self.poll_exited():
            return
        self.stopped = True
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if not self.wait(grace):
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait()

    @property
    def exit_code(self) -> int | None:
        """The shell's convention: the exit status, or 128 + N if killed by signal N."""
        return None if self.exit_status is None else target_exit.exit_code(self.exit_status)

    @property
    def killed_by(self) -> int | None:
        """The signal that killed the command, or None."""
        return None if self.exit_status is None else target_exit.killed_by(self.exit_status)

    def close(self) -> None:
        """Abandon: if the child never ran or still runs, kill and reap it; close our fds."""
        if self._go_w >= 0:
            os.close(self._go_w)  # EOF without the go byte: the child exits without exec
            self._go_w = -1
        if self._err_r >= 0:
            os.close(self._err_r)
            self._err_r = -1
        if self.pid and not self.poll_exited():
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait()
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


def capture_error_for(exc: PerfEventError, what: str) -> CaptureError:
    """One sentence for a perf_event_open failure we do not handle otherwise."""
    return CaptureError(f"Cannot open the sampling event for {what} ({os.strerror(exc.errno or 0)}).")
