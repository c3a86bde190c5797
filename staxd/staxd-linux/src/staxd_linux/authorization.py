"""The policy applied to one peer and one request: may it connect, and what exactly may be opened.

Everything a request can reach is decided here, before any perf_event_open, and
the outcome is a :class:`Plan` (targets pinned, threads listed, kernel mode on or
off); once opened, the plan confirms that its targets did not change meanwhile
(a set-user-id exec between the check and the open).  Every refusal is a
:class:`Refusal` whose text is the one sentence the client sees and the daemon logs.
"""

from __future__ import annotations

import attrs

from stax_binfmt.procfs import read_int
from stax_binfmt.staxd_protocol import DUMP_CALL_GRAPHS, OpenRequest
from staxd_linux.client_limits import SHORT_OF_FDS
from staxd_linux.peer import LookupFailed, Peer, group_id, user_id
from staxd_linux.policy import Policy
from staxd_linux.target_processes import PinnedProcess, TargetError, check_owned, thread_ids

MAX_FILTER_THREADS = 256
"""sched_waking for pids filters on the wakee's tid; the kernel takes a filter of at most one page."""
COUNTERS_PER_GROUP = 4


class Refusal(Exception):
    """A request or connection staxd will not serve; ``str()`` is the sentence for the client and the log."""


def may_connect(peer: Peer, policy: Policy) -> bool:
    """Root, a user in ``allowed_users``, or a member of an ``allowed_groups`` group.

    Raises LookupFailed when a name could not be looked up (see staxd_linux.peer).
    """
    if peer.is_root:
        return True
    for name in policy.allowed_users:
        if user_id(name) == peer.uid:
            return True
    for name in policy.allowed_groups:
        gid = group_id(name)
        if gid is not None and peer.in_group(gid):
            return True
    return False


def check_connect(peer: Peer, policy: Policy) -> None:
    """Refuse a peer that is neither root, an allowed user, nor in an allowed group.

    A lookup that failed for want of resources is a retry sentence, never "join group".
    """
    try:
        if may_connect(peer, policy):
            return
        known = [name for name in policy.allowed_groups if group_id(name) is not None]
    except LookupFailed:
        raise Refusal(SHORT_OF_FDS) from None
    user = peer.user_name()
    if not policy.allowed_groups:
        raise Refusal(f"user {user} may not use staxd: its policy ({policy.source}) allows no group; ask "
                      f"the administrator to add you to allowed_users.")
    if not known:
        group = policy.allowed_groups[0]
        raise Refusal(f"user {user} may not use staxd: group {group!r} of its policy ({policy.source}) does "
                      f"not exist; ask the administrator to run 'sudo stax setup'.")
    group = known[0]
    raise Refusal(f"user {user} may not use staxd: join group {group!r} with 'sudo usermod -aG {group} "
                  f"{user}' and log in again.")


@attrs.define(slots=True)
class Plan:
    """What an authorized open request will open: the events' owner decisions, made once."""

    request: OpenRequest
    kernel: bool
    user_stacks: bool
    cpus: tuple[int, ...]
    threads: dict[int, list[int]]
    pinned: list[PinnedProcess] = attrs.field(factory=list)
    client: tuple[int, int] | None = None
    """(uid, gid) the targets must keep matching, None when the client may profile anyone's."""

    def release(self) -> None:
        for pin in self.pinned:
            pin.close()
        self.pinned = []

    def targets_alive(self) -> bool:
        return all(pin.still_running() for pin in self.pinned)

    def confirm(self) -> None:
        """After every perf_event_open: each target is still the process that was checked, and still
        the client's to trace (see target_processes); raise Refusal if not (the caller closes the fds)."""
        try:
            for pin in self.pinned:
                pin.confirm(self.client)
        except TargetError as exc:
            raise Refusal(str(exc)) from None


def _refuse_by_policy(what: str, setting: str, policy: Policy) -> Refusal:
    return Refusal(f"{what} is not allowed by staxd's policy ({setting} = false in {policy.source}).")


def authorize_open(peer: Peer, policy: Policy, request: OpenRequest, online: list[int]) -> Plan:
    """Check ``request`` against the policy and the targets' owners; pin the targets.

    The caller opens the plan and then calls :meth:`Plan.confirm` before handing anything out.
    """
    grants = policy.grants(peer.is_root)
    if request.system_wide and not grants["system_wide"]:
        raise _refuse_by_policy("system-wide recording", "allow_system_wide", policy)
    if request.system_wide and request.call_graph in DUMP_CALL_GRAPHS and not grants["other_users"]:
        # a register and stack copy is raw memory of every process on the CPU, not just addresses
        raise _refuse_by_policy("copying other users' stacks (a system-wide call-graph dump)",
                                "allow_other_users", policy)
    if request.kind == "sched_waking" and not grants["tracepoints"]:
        raise _refuse_by_policy("the sched:sched_waking tracepoint", "allow_tracepoints", policy)
    if request.kind == "counters" and not grants["counters"]:
        raise _refuse_by_policy("hardware counters", "allow_counters", policy)
    wants_kernel = request.kernel_stacks if request.kind != "counters" else grants["kernel_stacks"]
    if wants_kernel and not grants["kernel_stacks"]:
        raise _refuse_by_policy("kernel stacks", "allow_kernel_stacks", policy)
    if request.kind == "sampling":
        limit = read_int("/proc/sys/kernel/perf_event_max_sample_rate", 100000)
        if not peer.is_root:
            limit = min(limit, policy.max_frequency)
        if request.frequency > limit:
            raise Refusal(f"frequency {request.frequency} Hz is above the limit of {limit} Hz; ask for less.")
    cpus = request.cpus or tuple(online)
    offline = sorted(set(cpus) - set(online))
    if offline:
        raise Refusal(f"cpu {offline[0]} is not online (online: {','.join(map(str, online))}).")

    plan = Plan(request=request, kernel=wants_kernel,
                user_stacks=request.system_wide or grants["other_users"], cpus=tuple(cpus), threads={},
                client=None if grants["other_users"] else (peer.uid, peer.gid))
    try:
        for pid in request.pids:
            plan.pinned.append(PinnedProcess(pid))
            if plan.client is not None:
                check_owned(pid, *plan.client)
            tids = thread_ids(pid)
            if not tids:
                raise TargetError(f"process {pid} does not exist.")
            plan.threads[pid] = tids
    except TargetError as exc:
        plan.release()
        raise Refusal(str(exc)) from None
    try:
        _check_size(plan, policy, peer.is_root)
    except Refusal:
        plan.release()
        raise
    return plan


def _check_size(plan: Plan, policy: Policy, root: bool) -> None:
    request = plan.request
    n_threads = sum(len(t) for t in plan.threads.values())
    if request.kind == "sched_waking" and not request.system_wide and n_threads > MAX_FILTER_THREADS:
        raise Refusal(f"the targets have {n_threads} threads; sched_waking can follow at most "
                      f"{MAX_FILTER_THREADS}.")
    fds = fd_count(plan)
    if not root and fds > policy.max_fds_per_request:
        raise Refusal(f"the request needs {fds} file descriptors, more than the policy's "
                      f"max_fds_per_request ({policy.max_fds_per_request}); ask for fewer pids or cpus.")


def fd_count(plan: Plan) -> int:
    """How many fds the plan opens (threads that exit meanwhile only make it fewer)."""
    request = plan.request
    n_cpus = len(plan.cpus)
    n_threads = sum(len(t) for t in plan.threads.values())
    if request.kind == "sched_waking":
        return n_cpus
    if request.kind == "counters":
        places = n_cpus if request.system_wide else n_threads * (n_cpus if request.cpus else 1)
        return places * COUNTERS_PER_GROUP
    return n_cpus if request.system_wide else n_threads * n_cpus
