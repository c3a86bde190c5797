"""Who is on the other end of a connection, as the kernel says (never as the client says).

SO_PEERCRED gives the uid, gid and pid the peer had when it connected; SO_PEERGROUPS
(Linux 4.13+) gives its supplementary groups from the same moment, so there is no
race with the peer exec'ing or exiting.  Only on older kernels do we fall back to
the ``Groups:`` line of /proc/<pid>/status.
"""

from __future__ import annotations

import grp
import pwd
import socket
import struct

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


def group_id(name: str) -> int | None:
    """The gid of group ``name`` (or a numeric id), None when no such group exists."""
    if name.isdigit():
        return int(name)
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def user_id(name: str) -> int | None:
    """The uid of user ``name`` (or a numeric id), None when no such user exists."""
    if name.isdigit():
        return int(name)
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None
