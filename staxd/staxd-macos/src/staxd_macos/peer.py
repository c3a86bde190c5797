"""Who is on the other end of staxd's socket, as the macOS kernel says.

``getsockopt(SOL_LOCAL, LOCAL_PEERTOKEN)`` gives the peer's audit token as it was at
connect(): eight u32 (auid, euid, egid, ruid, rgid, pid, asid, pid version;
libbsm's audit_token_to_au32), which names the process without a pid-reuse race.
``LOCAL_PEERCRED`` gives a ``struct xucred`` (u32 version 0, u32 uid, i16 group
count, 16 u32 groups; bsd/sys/ucred.h) for the groups, and ``getpeereid()`` (libc,
called through cffi in ABI mode) must agree on the effective uid.  The byte layouts
are decoded by pure functions tested on Linux; the :class:`Peer` is staxd-linux's, and
off macOS (the daemon runs on Linux only in tests) it comes from staxd-linux's
SO_PEERCRED reader.  The token's pid version (which would catch pid reuse) is read and
checked for shape but not kept: nothing here acts on a pid after the request.
"""

from __future__ import annotations

import socket
import struct
import sys

from staxd_linux.peer import Peer

__all__ = ["Peer", "PeerError", "parse_audit_token", "parse_xucred", "peer_from", "peer_of"]
SOL_LOCAL = 0
LOCAL_PEERCRED = 0x001
LOCAL_PEERTOKEN = 0x006
XUCRED = struct.Struct("<IIh2x16I")
AUDIT_TOKEN = struct.Struct("<8I")
XUCRED_VERSION = 0


class PeerError(Exception):
    """The kernel's answer about the peer could not be used; the connection is refused."""


def parse_audit_token(raw: bytes) -> tuple[int, int, int, int]:
    """(pid, euid, egid, pid version) from an audit_token_t."""
    if len(raw) != AUDIT_TOKEN.size:
        raise PeerError(f"the audit token has {len(raw)} bytes, not {AUDIT_TOKEN.size}")
    _auid, euid, egid, _ruid, _rgid, pid, _asid, pid_version = AUDIT_TOKEN.unpack(raw)
    return pid, euid, egid, pid_version


def parse_xucred(raw: bytes) -> tuple[int, tuple[int, ...]]:
    """(uid, groups) from a struct xucred; the first group is the effective gid."""
    if len(raw) < XUCRED.size:
        raise PeerError(f"the peer credentials have {len(raw)} bytes, fewer than {XUCRED.size}")
    version, uid, count, *groups = XUCRED.unpack(raw[: XUCRED.size])
    if version != XUCRED_VERSION or not 0 <= count <= len(groups):
        raise PeerError(f"the peer credentials are of version {version} with {count} groups")
    return uid, tuple(groups[:count])


def peer_from(token: bytes, xucred: bytes, peereid: tuple[int, int] | None) -> Peer:
    """The peer, when the audit token, the credentials and getpeereid() agree on who it is."""
    pid, euid, egid, pid_version = parse_audit_token(token)
    uid, groups = parse_xucred(xucred)
    if uid != euid or (peereid is not None and peereid[0] != euid):
        raise PeerError(f"the kernel's answers disagree on the peer's uid ({euid}, {uid}, {peereid})")
    return Peer(pid=pid, uid=euid, gid=egid, groups=frozenset(groups))


def _getpeereid(sock: socket.socket) -> tuple[int, int]:
    from stax_backend_macos import darwin_ffi

    ffi = darwin_ffi.ffi
    uid, gid = ffi.new("uint32_t *"), ffi.new("uint32_t *")
    if darwin_ffi.libsystem().getpeereid(sock.fileno(), uid, gid) != 0:
        raise PeerError(f"getpeereid failed with errno {ffi.errno}")
    return int(uid[0]), int(gid[0])


def peer_of(sock: socket.socket) -> Peer:
    """The credentials of ``sock``'s peer (a connected AF_UNIX socket); PeerError if unknowable."""
    if sys.platform == "darwin":
        try:
            token = sock.getsockopt(SOL_LOCAL, LOCAL_PEERTOKEN, AUDIT_TOKEN.size)
            xucred = sock.getsockopt(SOL_LOCAL, LOCAL_PEERCRED, XUCRED.size)
        except OSError as exc:
            raise PeerError(f"getsockopt failed ({exc.strerror})") from None
        return peer_from(token, xucred, _getpeereid(sock))
    from staxd_linux.peer import peer_of as linux_peer_of

    return linux_peer_of(sock)
