"""Who owns a target process, which threads it has, and holding on to it while we open events.

The daemon opens events as root, so the kernel's own check (ptrace_may_access with
PTRACE_MODE_READ_REALCREDS: the caller's uid must equal the target's real, effective
and saved uid, and the target must be dumpable) does not protect anyone; we make it
here.  A pidfd taken *before* the check pins the process identity: if the pid dies
and is reused while we work, the pidfd reports the exit and the grant is withdrawn.
"""

from __future__ import annotations

import os
import pwd
import select

import attrs


class TargetError(Exception):
    """A target that may not be (or cannot be) profiled; ``str()`` is the sentence for the client."""


@attrs.frozen(slots=True)
class ProcessCreds:
    """The ``Uid:``/``Tgid:`` lines of /proc/<pid>/status and the owner of /proc/<pid>."""

    tgid: int
    uids: tuple[int, int, int]
    """real, effective, saved set-user-id"""
    proc_owner: int
    """st_uid of /proc/<pid>: root when the task is not dumpable (proc(5), PR_SET_DUMPABLE)."""


def _owner_name(uid: int) -> str:
    try:
        return f"{uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return str(uid)


def read_creds(path: str) -> ProcessCreds | None:
    """Credentials of the task at ``path`` (/proc/<pid> or /proc/<pid>/task/<tid>); None if gone."""
    try:
        owner = os.stat(path).st_uid
        tgid = -1
        uids: tuple[int, int, int] | None = None
        with open(f"{path}/status") as status:
            for line in status:
                if line.startswith("Tgid:"):
                    tgid = int(line.split()[1])
                elif line.startswith("Uid:"):
                    real, effective, saved = (int(x) for x in line.split()[1:4])
                    uids = (real, effective, saved)
    except (OSError, ValueError):
        return None
    if uids is None:
        return None
    return ProcessCreds(tgid=tgid, uids=uids, proc_owner=owner)


def check_owned(pid: int, uid: int) -> None:
    """Raise TargetError unless process ``pid`` (every thread of it) belongs to ``uid`` alone."""
    creds = read_creds(f"/proc/{pid}")
    if creds is None:
        raise TargetError(f"process {pid} does not exist.")
    if creds.tgid != pid:
        raise TargetError(f"{pid} is a thread of process {creds.tgid}; give the process id.")
    _check_creds(pid, creds, uid)
    for tid in thread_ids(pid):
        thread = read_creds(f"/proc/{pid}/task/{tid}")
        if thread is not None and tid != pid:
            _check_creds(pid, thread, uid)


def _check_creds(pid: int, creds: ProcessCreds, uid: int) -> None:
    real = creds.uids[0]
    if real != uid:
        raise TargetError(f"process {pid} belongs to uid {_owner_name(real)}, not to you; staxd lets you "
                          f"profile only your own processes.")
    if any(u != uid for u in creds.uids):
        raise TargetError(f"process {pid} runs with another user's privileges (set-user-id), so staxd "
                          f"will not let you profile it.")
    if creds.proc_owner != uid:
        raise TargetError(f"process {pid} is not dumpable (set-user-id or PR_SET_DUMPABLE 0), so staxd "
                          f"will not let you profile it.")


def process_exists(pid: int) -> bool:
    creds = read_creds(f"/proc/{pid}")
    return creds is not None and creds.tgid == pid


def thread_ids(pid: int) -> list[int]:
    """The thread ids of ``pid`` (empty if it is gone)."""
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task") if t.isdigit())
    except OSError:
        return []


class PinnedProcess:
    """A pidfd on a target, taken before any check, to notice if the pid is recycled meanwhile."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            self.fd = os.pidfd_open(pid)
        except ProcessLookupError:
            raise TargetError(f"process {pid} does not exist.") from None
        except OSError:
            self.fd = -1  # pidfd_open unavailable (kernel < 5.3): fall back to the /proc checks alone

    def still_running(self) -> bool:
        """False once the process we pinned has exited (a pidfd polls readable then)."""
        if self.fd < 0:
            return process_exists(self.pid)
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        return not poller.poll(0)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
