"""Who is on the other end of a connection, as the kernel says (never as the client says).

SO_PEERCRED gives the uid, gid and pid the peer had when it connected; SO_PEERGROUPS
(Linux 4.13+) gives its supplementary groups from the same moment, so there is no
race with the peer exec'ing or exiting.  Only on older kernels do we fall back to
the ``Groups:`` line of /proc/<pid>/status.  The policy's user and group names are
turned into ids here too, telling "no such name" from "could not look it up".
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import socket
import struct
from collections.abc import Callable

import attrs

SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)  # asm-generic/socket.h
_UCRED = struct.Struct("iII")  # struct ucred: pid_t pid; uid_t uid; gid_t gid
_GROUPS_BUFFER = 1024  # the most getsockopt() in Python accepts: 256 groups; ERANGE beyond


@attrs.frozen(slots=True)
class Peer:
    """A connected client's credentials."""

    pid: int
    uid: int
    gid: int
    groups: frozenset[int]

    @property
    def is_root(self) -> bool:
        return self.uid == 0

    def user_name(self) -> str:
        try:
            return pwd.getpwuid(self.uid).pw_name
        except KeyError:
            return str(self.uid)

    def in_group(self, gid: int) -> bool:
        return gid == self.gid or gid in self.groups

    def describe(self) -> str:
        """``uid=65534(nobody) gid=65534 pid=123`` for log lines."""
        return f"uid={self.uid}({self.user_name()}) gid={self.gid} pid={self.pid}"


def _groups_from_proc(pid: int) -> frozenset[int]:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("Groups:"):
                    return frozenset(int(g) for g in line.split()[1:])
    except (OSError, ValueError):
        pass
    return frozenset()


def peer_of(sock: socket.socket) -> Peer:
    """The credentials of ``sock``'s peer (a connected AF_UNIX socket)."""
    pid, uid, gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, SO_PEERGROUPS, _GROUPS_BUFFER)
        groups = frozenset(struct.unpack(f"{len(raw) // 4}I", raw[: len(raw) // 4 * 4]))
    except OSError:  # ENOPROTOOPT (old kernel) or ERANGE (more than 256 groups)
        groups = _groups_from_proc(pid)
    return Peer(pid=pid, uid=uid, gid=gid, groups=groups)


class LookupFailed(Exception):
    """A user or group lookup failed for want of resources (EMFILE, ENFILE, ENOMEM), not because the
    name is unknown: Python's pwd and grp report both as KeyError, so a refusal built on that would
    tell a member to join a group it is in."""


_RESOURCE_ERRNOS = (errno.EMFILE, errno.ENFILE, errno.ENOMEM)
_resolved: dict[tuple[str, str], int] = {}
"""Names of the policy that resolved once, kept for the daemon's life: under fd pressure a member is
still recognised (a renumbered group needs a restart of staxd; a group created later is found)."""


def _lookup(kind: str, name: str, resolve: Callable[[str], int]) -> int | None:
    if name.isdigit():
        return int(name)
    key = (kind, name)
    if key in _resolved:
        return _resolved[key]
    try:
        value = resolve(name)
    except KeyError:
        _raise_if_short_of_resources()
        return None
    _resolved[key] = value
    return value


def _raise_if_short_of_resources() -> None:
    """After a failed lookup: was it for want of a file descriptor (NSS opens /etc/group, sockets)?"""
    try:
        fd = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in _RESOURCE_ERRNOS:
            raise LookupFailed(os.strerror(exc.errno)) from None
        return
    os.close(fd)


def group_id(name: str) -> int | None:
    """The gid of group ``name`` (or a numeric id), None when no such group exists.

    Raises LookupFailed when the lookup could not be made (see there).
    """
    return _lookup("group", name, lambda n: grp.getgrnam(n).gr_gid)


def user_id(name: str) -> int | None:
    """The uid of user ``name`` (or a numeric id), None when no such user exists.

    Raises LookupFailed when the lookup could not be made (see there).
    """
    return _lookup("user", name, lambda n: pwd.getpwnam(n).pw_uid)
