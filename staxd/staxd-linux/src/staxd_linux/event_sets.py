"""Opening an authorized :class:`~staxd_linux.authorization.Plan`: the fds and what each one is.

The shapes follow the in-process backend (stax_backend_linux.capture.targets): sampling and
context switches are one event per (thread, CPU) with ``inherit`` so new threads
are followed, or one per CPU with pid -1 system-wide; the client maps one ring per
CPU and redirects the rest with PERF_EVENT_IOC_SET_OUTPUT.  sched_waking is one
event per CPU for every task, filtered on the wakee when the request names pids.
Counters are one group per thread (any CPU, inherited), or per CPU system-wide.

Whatever fails, every fd opened so far is closed before the refusal is raised.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable
from typing import Any

from stax_binfmt import perf_counters, perf_event_sets, tracefs
from stax_binfmt.perf_counters import NO_PMU_ERRNOS
from stax_binfmt.perf_dwarf_callgraph import DwarfSampling
from stax_binfmt.perf_event_ffi import PERF_EVENT_IOC_SET_FILTER, PerfEventError, event_id, perf_event_open
from stax_binfmt.staxd_protocol import FdDescription, Granted, OpenRequest, close_granted
from staxd_linux import rate_limit
from staxd_linux.authorization import Plan, Refusal

TRACEFS_DENIED_FIX = f"staxd mounts it only while starting, so mount it with '{tracefs.MOUNT_COMMAND}'"

Log = Callable[[str], None]


class _Opened:
    """The fds opened so far for one request, closed together if anything fails."""

    def __init__(self) -> None:
        self.items: Granted = []

    def add(self, fd: int, attr: Any, *, kind: str, event: str, pid: int, tid: int, cpu: int, kernel: bool,
            group: int | None = None, raw_fields: dict[str, tuple[int, int, bool]] | None = None) -> int:
        """Record ``fd`` (just opened) with its description; it is closed if describing it fails."""
        index = len(self.items)
        try:
            description = FdDescription(
                index=index, kind=kind, event=event, pid=pid, tid=tid, cpu=cpu, event_id=event_id(fd),
                sample_type=int(attr.sample_type), read_format=int(attr.read_format),
                sample_regs_user=int(attr.sample_regs_user), sample_stack_user=int(attr.sample_stack_user),
                kernel=kernel, group=index if group == -1 else group, raw_fields=raw_fields or {},
            )
        except BaseException:
            os.close(fd)
            raise
        self.items.append((fd, description))
        return index

    def close(self) -> None:
        close_granted(self.items)
        self.items = []


def _errno_sentence(exc: PerfEventError, what: str) -> str:
    err = exc.errno or 0
    if err == errno.EMFILE:
        return f"staxd ran out of file descriptors opening {what}; ask for fewer pids or cpus."
    if err == errno.EINVAL:
        return f"the kernel rejected {what} as invalid (EINVAL); this kernel may not support it."
    return f"the kernel refused {what} ({os.strerror(err)})."


def open_plan(plan: Plan, log: Log) -> Granted:
    """Open every fd of ``plan``; raise Refusal (with all fds closed) if any cannot be opened."""
    opened = _Opened()
    kind = plan.request.kind
    try:
        if kind == "sampling":
            _open_per_thread_cpu(plan, opened, "cpu-clock", _sampling_attr(plan))
            _hold_rate(plan, opened)
        elif kind == "context_switch":
            _open_per_thread_cpu(plan, opened, "context-switches", _switch_attr(plan))
        elif kind == "sched_waking":
            _open_sched_waking(plan, opened, log)
        else:
            _open_counters(plan, opened)
        if plan.request.pids and not plan.targets_alive():
            raise Refusal("a target process exited while its events were being opened; try again.")
    except PerfEventError as exc:
        opened.close()
        raise Refusal(_errno_sentence(exc, kind.replace("_", " ") + " events")) from None
    except BaseException:
        opened.close()
        raise
    return opened.items


def _dwarf(request: OpenRequest) -> DwarfSampling | None:
    """The user register and stack dump this machine's unwinders need, when the request asks for one
    (``dwarf``: every register, no user fp walk; ``hybrid``: ip/sp/bp beside the fp walk)."""
    if request.call_graph == "dwarf":
        return DwarfSampling.for_machine(request.dwarf_stack_size)
    if request.call_graph == "hybrid":
        return DwarfSampling.hybrid(request.dwarf_stack_size)
    return None


def _sampling_attr(plan: Plan) -> Callable[[], Any]:
    r = plan.request

    def make() -> Any:
        return perf_event_sets.sampling(r.frequency, kernel=plan.kernel, inherit=not r.system_wide,
                                        start=r.start, wakeup_bytes=r.wakeup_bytes, dwarf=_dwarf(r),
                                        identifier=r.identifier)
    return make


def _hold_rate(plan: Plan, opened: _Opened) -> None:
    """Attach one rate limit (rate_limit.py) to every sampling fd of the grant, where BPF works.

    Where it does not, the grant goes on (staxd said so at start and says so in hello); where
    it worked at start but fails now, the grant is refused rather than handed out unlimited.
    """
    if rate_limit.unavailable():
        return
    try:
        with rate_limit.RateLimit(plan.request.frequency) as limit:
            for fd, _ in opened.items:
                limit.attach(fd)
    except rate_limit.RateLimitError as exc:
        raise Refusal(f"staxd could not attach its rate limit to the sampling events ({exc}), so it does not "
                      f"grant them.") from None


def _switch_attr(plan: Plan) -> Callable[[], Any]:
    r = plan.request

    def make() -> Any:
        return perf_event_sets.context_switch(kernel=plan.kernel, inherit=not r.system_wide, start=r.start,
                                              wakeup_bytes=r.wakeup_bytes, dwarf=_dwarf(r))
    return make


def _open_per_thread_cpu(plan: Plan, opened: _Opened, event: str, make: Callable[[], Any]) -> None:
    kind = plan.request.kind
    if plan.request.system_wide:
        for cpu in plan.cpus:
            attr = make()
            opened.add(perf_event_open(attr, -1, cpu), attr, kind=kind, event=event, pid=-1, tid=-1, cpu=cpu,
                       kernel=plan.kernel)
        return
    for pid, tids in plan.threads.items():
        before = len(opened.items)
        for cpu in plan.cpus:
            for tid in tids:
                attr = make()
                try:
                    fd = perf_event_open(attr, tid, cpu)
                except PerfEventError as exc:
                    if exc.errno == errno.ESRCH:
                        continue  # that thread exited meanwhile; inherit covers the rest
                    raise
                opened.add(fd, attr, kind=kind, event=event, pid=pid, tid=tid, cpu=cpu, kernel=plan.kernel)
        if len(opened.items) == before:
            raise Refusal(f"process {pid} exited before its events could be opened.")


def _waking_filter(plan: Plan) -> bytes:
    """An ftrace filter keeping only wakeups *of* the targets' threads (field ``pid`` is the wakee)."""
    tids = [tid for tids in plan.threads.values() for tid in tids]
    return " || ".join(f"pid == {tid}" for tid in tids).encode()


def _open_sched_waking(plan: Plan, opened: _Opened, log: Log) -> None:
    try:
        root, mounted = tracefs.ensure_mounted(TRACEFS_DENIED_FIX)
        if mounted:
            log(f"mounted tracefs on {root} for a sched_waking request")
        tp_id = tracefs.tracepoint_id(root, "sched", "sched_waking")
        fields = tracefs.tracepoint_fields(root, "sched", "sched_waking")
    except tracefs.TracefsError as exc:
        raise Refusal(exc.strerror or str(exc)) from None
    r = plan.request
    event_filter = b"" if r.system_wide else _waking_filter(plan)
    for cpu in plan.cpus:
        attr = perf_event_sets.sched_waking(tp_id, kernel=plan.kernel, user_stacks=plan.user_stacks,
                                            start=r.start, wakeup_bytes=r.wakeup_bytes)
        fd = perf_event_open(attr, -1, cpu)
        opened.add(fd, attr, kind=r.kind, event="sched:sched_waking", pid=-1,
                   tid=-1, cpu=cpu, kernel=plan.kernel, raw_fields=fields)
        if event_filter:
            try:
                fcntl.ioctl(fd, PERF_EVENT_IOC_SET_FILTER, bytearray(event_filter + b"\0"))
            except OSError as exc:
                raise Refusal(f"the kernel rejected the sched_waking filter ({os.strerror(exc.errno or 0)})."
                              ) from None


def _open_group(plan: Plan, opened: _Opened, pid: int, tid: int, cpu: int) -> None:
    r = plan.request
    inherit = not r.system_wide
    leader_fd = -1
    leader_index = -1
    for position, spec in enumerate(perf_counters.COUNTER_GROUP):
        attr = perf_event_sets.counter(spec, leader=position == 0, kernel=plan.kernel, inherit=inherit,
                                   start=r.start, identifier=r.identifier)
        try:
            fd = perf_event_open(attr, tid, cpu, group_fd=leader_fd)
        except PerfEventError as exc:
            if position == 0 and exc.errno in NO_PMU_ERRNOS:
                raise Refusal(f"no hardware PMU on this host (perf_event_open for the cycles counter fails "
                              f"with {errno.errorcode.get(exc.errno or 0, exc.errno)}).") from None
            if exc.errno in NO_PMU_ERRNOS:
                raise Refusal(f"this CPU's PMU has no {spec.event} counter "
                              f"({errno.errorcode.get(exc.errno or 0, exc.errno)}).") from None
            raise
        index = opened.add(fd, attr, kind=r.kind, event=spec.event, pid=pid, tid=tid, cpu=cpu,
                           kernel=plan.kernel, group=-1 if position == 0 else leader_index)
        if position == 0:
            leader_fd, leader_index = fd, index


def _open_counters(plan: Plan, opened: _Opened) -> None:
    r = plan.request
    if r.system_wide:
        for cpu in plan.cpus:
            _open_group(plan, opened, -1, -1, cpu)
        return
    cpus = plan.cpus if r.cpus else (-1,)
    for pid, tids in plan.threads.items():
        before = len(opened.items)
        for cpu in cpus:
            for tid in tids:
                try:
                    _open_group(plan, opened, pid, tid, cpu)
                except PerfEventError as exc:
                    if exc.errno == errno.ESRCH:
                        continue
                    raise
        if len(opened.items) == before:
            raise Refusal(f"process {pid} exited before its counters could be opened.")
