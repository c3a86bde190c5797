"""May this client profile that process: the kernel's ptrace rule, made by hand, and made twice.

The daemon opens events as root, so the kernel's own check in perf_event_open
(``ptrace_may_access(task, PTRACE_MODE_READ_REALCREDS)``) passes for every target and
protects no one; staxd makes that check itself, for every thread:

* the client's uid equals the target's real, effective and saved uid, and the
  client's gid its real, effective and saved gid (the ``Uid:``/``Gid:`` lines of
  /proc/PID/task/TID/status); so set-user-id and set-group-id programs are refused;
* the target is dumpable (see :func:`dump_owner`), so ``prctl(PR_SET_DUMPABLE, 0)``
  processes (ssh-agent, gpg-agent) and programs exec'd from unreadable files are
  refused, as ptrace refuses them;
* a target in a user namespace other than the daemon's must be in one the client
  owns: that is when the kernel would let the client trace it with capabilities of
  that namespace, and the only case in which :func:`dump_owner` cannot tell a
  non-dumpable task from a dumpable one.

A check before perf_event_open is not enough: the process can exec a set-user-id
program between the check and the open, and the event would then be attached to
the privileged image.  The kernel closes the window *after* the open itself: an exec
that makes the task non-dumpable calls perf_event_exit_task() (fs/exec.c,
begin_new_exec), which detaches every event that exists at that moment, and
perf_event_open takes the task's exec_update_lock, so an open lands either wholly
before such an exec (and is detached by it) or after it.  So staxd checks, opens,
and then checks again (:meth:`PinnedProcess.confirm`): if the process is still the
one it pinned (pidfd, start time, executable) and still passes the rule, any later
set-user-id exec is the kernel's to handle; if not, every fd is closed and the
request refused.
"""

from __future__ import annotations

import errno
import fcntl
import grp
import os
import pwd
import select
import struct

import attrs

from stax_backend_linux.proc_snapshot import thread_ids

NS_GET_PARENT = 0xB702  # _IO(0xb7, 0x2), linux/nsfs.h
NS_GET_OWNER_UID = 0xB704  # _IO(0xb7, 0x4)

__all__ = ["PinnedProcess", "TargetError", "check_owned", "process_exists", "thread_ids"]


class TargetError(Exception):
    """A target that may not be (or cannot be) profiled; ``str()`` is the sentence for the client."""


@attrs.frozen(slots=True)
class TaskCreds:
    """One task's ``Tgid:``/``State:``/``Uid:``/``Gid:`` lines and its dump owner."""

    tgid: int
    state: str
    uids: tuple[int, int, int]
    """real, effective, saved set-user-id"""
    gids: tuple[int, int, int]
    """real, effective, saved set-group-id"""
    dump_owner: int


def dump_owner(task: str) -> int:
    """The owner of ``task``/status: the task's effective uid if it is dumpable, else a root.

    Linux has no file that states another process's dumpable flag (prctl(PR_GET_DUMPABLE)
    reads only the caller's, and /proc/PID/status has no such line).  What it exposes is the
    ownership of /proc/PID's files (fs/proc/base.c, task_dump_owner(); proc(5)): owned by
    the effective uid when the mm is SUID_DUMP_USER, else by uid 0 of the namespace the
    mm was created in, and by root for a task without an mm.  The directory /proc/PID
    itself is exempt (``mode == S_IFDIR|0555`` keeps the effective uid, so that ``ps``
    can stat it), which is why we stat a file inside it.
    """
    return os.stat(f"{task}/status").st_uid


def read_creds(task: str) -> TaskCreds | None:
    """Credentials of ``task`` (/proc/PID or /proc/PID/task/TID); None if it is gone."""
    fields: dict[str, list[str]] = {}
    try:
        owner = dump_owner(task)
        with open(f"{task}/status") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in ("Tgid", "State", "Uid", "Gid"):
                    fields[key] = rest.split()
        return TaskCreds(tgid=int(fields["Tgid"][0]), state=fields["State"][0],
                         uids=(int(fields["Uid"][0]), int(fields["Uid"][1]), int(fields["Uid"][2])),
                         gids=(int(fields["Gid"][0]), int(fields["Gid"][1]), int(fields["Gid"][2])),
                         dump_owner=owner)
    except (OSError, ValueError, KeyError, IndexError):
        return None


def _user(uid: int) -> str:
    try:
        return f"{uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return f"{gid} ({grp.getgrgid(gid).gr_name})"
    except KeyError:
        return str(gid)


def check_owned(pid: int, uid: int, gid: int) -> None:
    """Raise TargetError unless the client (``uid``, ``gid``) may trace process ``pid``, every thread."""
    creds = read_creds(f"/proc/{pid}")
    if creds is None:
        raise TargetError(f"process {pid} does not exist.")
    if creds.tgid != pid:
        raise TargetError(f"{pid} is a thread of process {creds.tgid}; give the process id.")
    if creds.state in ("Z", "X"):
        raise TargetError(f"process {pid} has exited.")
    _check_task(pid, creds, uid, gid)
    for tid in thread_ids(pid):
        thread = read_creds(f"/proc/{pid}/task/{tid}")
        if thread is not None and tid != pid:
            _check_task(pid, thread, uid, gid)
    _check_namespace(pid, uid)


def _check_task(pid: int, creds: TaskCreds, uid: int, gid: int) -> None:
    if creds.uids[0] != uid:
        raise TargetError(f"process {pid} belongs to uid {_user(creds.uids[0])}, not to you; staxd lets you "
                          f"profile only your own processes.")
    if any(u != uid for u in creds.uids):
        raise TargetError(f"process {pid} runs with another user's privileges (set-user-id), so staxd "
                          f"will not let you profile it.")
    if creds.gids[0] != gid:
        raise TargetError(f"process {pid} runs with group {_group(creds.gids[0])}, not your group "
                          f"{_group(gid)}; staxd, like ptrace, lets you profile only processes with your own "
                          f"user and group.")
    if any(g != gid for g in creds.gids):
        raise TargetError(f"process {pid} runs with another group's privileges (set-group-id), so staxd "
                          f"will not let you profile it.")
    if creds.dump_owner != uid:
        raise TargetError(f"process {pid} is not dumpable (it called prctl(PR_SET_DUMPABLE, 0) or runs a "
                          f"set-user-id or unreadable program), so staxd will not let you profile it.")


def _check_namespace(pid: int, uid: int) -> None:
    """A task outside our user namespace: its outermost namespace below ours must be the client's.

    Only then does the client hold capabilities over it (user_namespaces(7)), and only then
    does a dump owner equal to the client's uid prove nothing the kernel would refuse.
    """
    try:
        ours = os.stat("/proc/self/ns/user").st_ino
        fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return  # no namespaces (or the process is gone: the re-check after the open sees that)
    try:
        if os.fstat(fd).st_ino == ours:
            return
        while True:
            try:
                parent = fcntl.ioctl(fd, NS_GET_PARENT)
            except OSError as exc:
                if exc.errno == errno.EPERM:  # the parent is outside our namespace: not below ours
                    raise TargetError(f"process {pid} runs in a user namespace staxd cannot see into, so it "
                                      f"will not let you profile it.") from None
                raise
            if os.fstat(parent).st_ino == ours:
                os.close(parent)
                break
            os.close(fd)
            fd = parent
        (owner,) = struct.unpack("I", fcntl.ioctl(fd, NS_GET_OWNER_UID, bytes(4)))
    finally:
        os.close(fd)
    if owner != uid:
        raise TargetError(f"process {pid} runs in a user namespace created by uid {_user(owner)}, not by "
                          f"you, so staxd will not let you profile it.")


def process_exists(pid: int) -> bool:
    creds = read_creds(f"/proc/{pid}")
    return creds is not None and creds.tgid == pid


@attrs.frozen(slots=True)
class Identity:
    """What tells one process image from another under the same pid: start time and executable."""

    start_time: int
    """field 22 of /proc/PID/stat, in clock ticks since boot: a recycled pid has another"""
    exe: tuple[int, int] | None
    """(st_dev, st_ino) of /proc/PID/exe, None when unreadable: an exec of another program changes it"""


def read_identity(pid: int) -> Identity | None:
    """The process image now at ``pid``; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        # comm (field 2) may hold spaces and parentheses: the fields resume after the last ')'
        start_time = int(stat[stat.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None
    try:
        exe_stat = os.stat(f"/proc/{pid}/exe")
        exe: tuple[int, int] | None = (exe_stat.st_dev, exe_stat.st_ino)
    except OSError:
        exe = None  # a kernel thread, a zombie, or no CAP_SYS_PTRACE: the start time still counts
    return Identity(start_time=start_time, exe=exe)


class PinnedProcess:
    """A pidfd on a target, taken before any check, and the image it had then."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            self.fd = os.pidfd_open(pid)
        except ProcessLookupError:
            raise TargetError(f"process {pid} does not exist.") from None
        except OSError:
            self.fd = -1  # pidfd_open unavailable (kernel < 5.3): fall back to the /proc checks alone
        self.identity = read_identity(pid)
        if self.identity is None:
            self.close()
            raise TargetError(f"process {pid} does not exist.")

    def still_running(self) -> bool:
        """False once the process we pinned has exited (a pidfd polls readable then)."""
        if self.fd < 0:
            return process_exists(self.pid)
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        return not poller.poll(0)

    def confirm(self, client: tuple[int, int] | None) -> None:
        """After perf_event_open: the same process, the same program, and (``client`` = (uid, gid)
        given) still one the client may trace.  Raise TargetError otherwise."""
        try:
            same = read_identity(self.pid) == self.identity
            if same and client is not None:
                check_owned(self.pid, *client)
        except TargetError:
            same = False
        if not self.still_running():  # checked last: it may have exited (and the pid been reused) meanwhile
            raise TargetError(f"process {self.pid} exited while staxd was opening its events; try again.")
        if not same:
            raise TargetError(f"process {self.pid} executed another program or changed its credentials while "
                              f"staxd was opening its events, so staxd withdrew them.")

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
