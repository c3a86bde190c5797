"""The policy applied to one peer and one record request, each refusal one sentence.

Connect: root, an allowed user, or a member of an allowed group.  Record, for a
non-root peer: the target processes must be its own (unless allow_other_users; the
owner is read when the request arrives), system-wide recording needs
allow_system_wide, kernel stacks allow_kernel_stacks, off-CPU scheduler events
allow_tracepoints, counters allow_counters, and the frequency at most max_frequency.
"""

from __future__ import annotations

import pwd
import shutil
import subprocess
from collections.abc import Callable

from stax_backend_macos.staxd_wire import RecordRequest
from staxd_linux.peer import group_id, user_id
from staxd_macos.peer import Peer
from staxd_macos.policy import Policy


class Refusal(Exception):
    """A connection or request staxd will not serve; ``str()`` is the sentence for the client and the log."""


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def process_owner(pid: int) -> int | None:
    """The uid owning ``pid`` (``ps -o uid=``, the same on macOS and Linux), None if it does not exist."""
    ps = shutil.which("ps") or "/bin/ps"
    try:
        out = subprocess.run([ps, "-o", "uid=", "-p", str(pid)], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return int(out.split()[0]) if out.split() and out.split()[0].isdigit() else None


def check_connect(peer: Peer, policy: Policy) -> None:
    if peer.is_root:
        return
    if any(user_id(name) == peer.uid for name in policy.allowed_users):
        return
    if any((gid := group_id(name)) is not None and peer.in_group(gid) for name in policy.allowed_groups):
        return
    user = user_name(peer.uid)
    if not policy.allowed_groups:
        raise Refusal(f"user {user} may not use staxd: its policy ({policy.source}) allows no group; ask the"
                      f" administrator to add you to allowed_users.")
    group = policy.allowed_groups[0]
    raise Refusal(f"user {user} may not use staxd: join group {group!r} with 'sudo dseditgroup -o edit"
                  f" -a {user}"
                  f" -t user {group}' and log in again.")


def grants(peer: Peer, policy: Policy) -> dict[str, bool]:
    """What this peer may ask for (the hello reply)."""
    return policy.grants(peer.is_root)


def authorize_record(peer: Peer, request: RecordRequest, policy: Policy,
                     owner_of: Callable[[int], int | None] = process_owner) -> None:
    if peer.is_root:
        return
    allowed = policy.grants(False)
    if request.system_wide and not allowed["system_wide"]:
        raise Refusal(f"staxd's policy ({policy.source}) does not let you record every process; record your"
                      f" own processes with -p PID or a command.")
    for pid in request.pids:
        owner = owner_of(pid)
        if owner is None:
            raise Refusal(f"no process with pid {pid} exists.")
        if owner != peer.uid and not allowed["other_users"]:
            raise Refusal(f"process {pid} belongs to {user_name(owner)}, and staxd's policy ({policy.source})"
                          f" lets you record only your own processes.")
    if request.kernel_stacks and not allowed["kernel_stacks"]:
        raise Refusal(f"staxd's policy ({policy.source}) does not allow kernel stacks; record with"
                      f" --no-kernel.")
    if request.off_cpu and not allowed["tracepoints"]:
        raise Refusal(f"staxd's policy ({policy.source}) does not allow scheduler events; record with"
                      f" --no-off-cpu.")
    if request.counters and not allowed["counters"]:
        raise Refusal(f"staxd's policy ({policy.source}) does not allow PMU counters; record without"
                      f" --counters.")
    if request.frequency > policy.max_frequency:
        raise Refusal(f"{request.frequency} Hz is above staxd's limit of {policy.max_frequency} Hz;"
                      f" record with"
                      f" -F {policy.max_frequency} or less.")
