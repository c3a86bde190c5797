"""Which way each event set of a recording is opened: in-process, or through staxd.

The backend opens an event set itself when the host allows what was asked.  When it
does not (kernel mode under a strict kernel.perf_event_paranoid, the sched_waking
tracepoint, CPU-wide events, hardware counters that count the kernel), it asks
staxd for the fds (:mod:`stax_backend_linux.staxd_client.client`) and uses them exactly
like its own: staxd builds the attrs with this package's builders, so a grant has
the in-process record layout; the session maps one ring per CPU, redirects the
other fds of that CPU into it with PERF_EVENT_IOC_SET_OUTPUT, and enables the
granted events (opened ``disabled``) only after mapping.

When staxd is absent or refuses, the recording goes on with what in-process allows;
:meth:`EventOpener.note` is then the one sentence saying what was lost and how to
get it.  :attr:`EventOpener.modes` ("in-process" / "staxd" per event set) goes into
the recording's metadata.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import attrs

from stax.errors import CaptureError
from stax_backend_linux.capture.targets import PerCpuEvents
from stax_backend_linux.counters.group import (
    NO_PMU_ERRNOS,
    CounterGroup,
    no_pmu_sentence,
    open_groups,
)
from stax_backend_linux.host_capabilities import HostFacts
from stax_backend_linux.staxd_client.client import StaxdClient, StaxdRefused, StaxdUnavailable
from stax_binfmt import perf_counters
from stax_binfmt import perf_event_attr as pea
from stax_binfmt.perf_dwarf_callgraph import DwarfSampling
from stax_binfmt.perf_event_ffi import PerfEventError, enable
from stax_binfmt.staxd_protocol import MAX_PIDS, Granted, OpenRequest, close_granted

IN_PROCESS = "in-process"
STAXD = "staxd"


# What each loss is called in the note, in the order the note lists them.
KERNEL_FRAMES = "kernel frames"
OFF_CPU_STACKS = "off-CPU stacks"
WAKEUPS = "wakeups"
KERNEL_COUNTS = "kernel-mode hardware counts"
HARDWARE_COUNTERS = "hardware counters"
_ORDER = (KERNEL_FRAMES, OFF_CPU_STACKS, WAKEUPS, KERNEL_COUNTS, HARDWARE_COUNTERS)
# Losses a lower kernel.perf_event_paranoid would also cure (wakeups need root in-process).
_PARANOID_CURES = {KERNEL_FRAMES, OFF_CPU_STACKS, KERNEL_COUNTS, HARDWARE_COUNTERS}
# Losses staxd's allow_kernel_stacks = false explains (it grants the user-mode rest).
_KERNEL_MODE = {KERNEL_FRAMES, KERNEL_COUNTS}


@attrs.frozen(slots=True)
class StaxdTarget:
    """How staxd is asked to shape the events: the target's pids or every CPU, and how they start."""

    pids: tuple[int, ...] = ()
    system_wide: bool = False
    command: bool = False
    """A command held before exec: sampling, switches and counters start ``on_exec``."""


def _join(items: Sequence[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


class EventOpener:
    """Asks staxd for the event sets the session may not open itself, and remembers what was lost.

    ``socket_path`` None means ``$STAXD_SOCKET`` or /run/staxd/staxd.sock.  One connection
    serves the whole recording; once staxd is found unreachable it is not asked again.
    """

    def __init__(self, cpus: Sequence[int], *, paranoid: int, socket_path: str | None = None,
                 timeout: float = 10.0) -> None:
        self.cpus = list(cpus)
        self.paranoid = paranoid
        self.modes: dict[str, str] = {}
        self.lost: list[str] = []
        self.failure: CaptureError | None = None
        """Why staxd gave nothing for the first event set it was asked for and did not grant."""
        self.to_enable: list[int] = []
        """Granted fds opened ``disabled``: enable them once the rings are mapped."""
        self.sample_types: dict[int, int] = {}
        """event id -> sample_type of every fd staxd granted (its description): the decoder's layout."""
        self._client = StaxdClient(socket_path, timeout=timeout)
        self._unreachable = False
        self._hello: dict[str, Any] | None = None

    # -- asking staxd ---------------------------------------------------------------------------

    def ask(self, request: OpenRequest) -> Granted | None:
        """The fds staxd grants for ``request``, or None (the reason kept in :attr:`failure`)."""
        if self._unreachable:
            return None
        try:
            if self._hello is None:
                self._hello = self._client.hello()
            granted = self._client.open_events(request)
        except StaxdUnavailable as exc:
            self._unreachable = True
            self.failure = self.failure or exc
        except StaxdRefused as exc:
            self.failure = self.failure or exc
        except CaptureError as exc:  # a malformed or truncated reply: treat like an absent daemon
            self._unreachable = True
            self.failure = self.failure or exc
        else:
            self.sample_types.update((d.event_id, d.sample_type) for _, d in granted)
            return granted
        return None

    def hello(self) -> dict[str, Any] | None:
        """staxd's hello reply (asked once), or None when it does not answer."""
        if self._hello is None and not self._unreachable:
            try:
                self._hello = self._client.hello()
            except StaxdRefused as exc:
                self.failure = self.failure or exc
            except CaptureError as exc:
                self._unreachable = True
                self.failure = self.failure or exc
        return self._hello

    def grants(self, name: str) -> bool:
        """Whether staxd's hello says this user may have ``name`` (False when staxd does not answer)."""
        hello = self.hello()
        return bool(hello and hello.get("grants", {}).get(name))

    def kernel_stacks_off_by_policy(self) -> bool:
        """staxd answers, and its policy does not grant this user kernel stacks (allow_kernel_stacks)."""
        return self._hello is not None and not self.grants("kernel_stacks")

    def _decodable(self, granted: Granted, sample_type: int) -> bool:
        """Whether every granted fd has ``sample_type``, with or without PERF_SAMPLE_IP (staxd drops it
        where kernel stacks are not granted); if not, the fds are given back."""
        if all(d.sample_type | pea.PERF_SAMPLE_IP == sample_type | pea.PERF_SAMPLE_IP for _, d in granted):
            return True
        close_granted(granted)
        self.failure = self.failure or CaptureError("staxd's sample layout differs from the one this stax "
                                                    "decodes; upgrade staxd.")
        return False

    def _same_dump(self, granted: Granted, dwarf: DwarfSampling | None) -> bool:
        """Whether every granted fd copies the registers and stack bytes the decoder expects; if not,
        the fds are given back."""
        want = (dwarf.regs_mask, dwarf.stack_size) if dwarf is not None else (0, 0)
        if all((d.sample_regs_user, d.sample_stack_user) == want for _, d in granted):
            return True
        close_granted(granted)
        self.failure = self.failure or CaptureError("staxd's user register and stack dump differs from "
                                                    "the one this stax decodes; upgrade staxd.")
        return False

    def request(self, kind: str, target: StaxdTarget, **fields: Any) -> OpenRequest | None:
        """An OpenRequest shaped for ``target``; None when staxd cannot take it (too many pids)."""
        if not target.system_wide and not 0 < len(target.pids) <= MAX_PIDS:
            return None
        start = "on_exec" if target.command and kind != "sched_waking" else "disabled"
        return OpenRequest(kind=kind, pids=() if target.system_wide else target.pids,
                           system_wide=target.system_wide, start=start, **fields)

    def per_cpu(self, granted: Granted, start: str) -> PerCpuEvents | None:
        """Arrange granted fds as the session's rings want them: per CPU, the first one leads.

        Returns None (fds closed) if a CPU of this recording got no fd.  Fds opened
        ``disabled`` are queued in :attr:`to_enable`.
        """
        events = PerCpuEvents(self.cpus)
        by_cpu: dict[int, list[int]] = {cpu: [] for cpu in self.cpus}
        for fd, description in granted:
            if description.cpu not in by_cpu:
                close_granted(granted)
                return None
            by_cpu[description.cpu].append(fd)
        if any(not fds for fds in by_cpu.values()):
            close_granted(granted)
            return None
        for cpu in self.cpus:
            events.leaders.append(by_cpu[cpu][0])
            events.followers.append(by_cpu[cpu][1:])
        if start == "disabled":
            self.to_enable.extend(fd for fd, _ in granted)
        return events

    # -- the event sets -------------------------------------------------------------------------

    def sampling(self, target: StaxdTarget, *, frequency: int, identifier: bool, wakeup_bytes: int,
                 kernel: bool, dwarf: DwarfSampling | None = None) -> PerCpuEvents | None:
        """The cpu-clock sampler through staxd (with kernel frames when ``kernel``), or None.

        ``dwarf`` is the user register and stack dump (--call-graph fp's hybrid one or dwarf's):
        a grant whose dump layout differs from the one the decoder expects is given back.
        """
        fields: dict[str, Any] = {"frequency": frequency, "kernel_stacks": kernel, "identifier": identifier,
                                  "wakeup_bytes": wakeup_bytes, **_dump_fields(dwarf)}
        request = self.request("sampling", target, **fields)
        granted = self.ask(request) if request is not None else None
        if granted is None or request is None:
            return None
        if not self._same_dump(granted, dwarf):
            return None
        events = self.per_cpu(granted, request.start)
        if events is not None:
            self.modes["sampling"] = STAXD
        return events

    def context_switch(self, target: StaxdTarget, *, kernel: bool, wakeup_bytes: int,
                       dwarf: DwarfSampling | None = None) -> PerCpuEvents | None:
        """The context-switch event with a stack sample at every switch-out, or None.

        Without ``kernel`` the stack is the user part only, and the sample has no IP.
        ``dwarf``: each switch-out sample also carries that user register and stack dump.
        """
        request = self.request("context_switch", target, kernel_stacks=kernel, wakeup_bytes=wakeup_bytes,
                               **_dump_fields(dwarf))
        granted = self.ask(request) if request is not None else None
        if granted is None or request is None:
            return None
        dump_bits = pea.PERF_SAMPLE_REGS_USER | pea.PERF_SAMPLE_STACK_USER if dwarf is not None else 0
        if not self._decodable(granted, pea.SHARED_RING_SAMPLE_TYPE | dump_bits):
            return None
        if not self._same_dump(granted, dwarf):
            return None
        events = self.per_cpu(granted, request.start)
        if events is not None:
            self.modes["context_switch"] = STAXD
        return events

    def sched_waking(self, target: StaxdTarget, *, kernel: bool, wakeup_bytes: int,
                     ) -> tuple[PerCpuEvents, dict[str, tuple[int, int, bool]]] | None:
        """sched:sched_waking per CPU and its raw field layout, or None.

        staxd filters the tracepoint on the targets' threads as they are when it opens
        it; when its policy grants CPU-wide events, ask for every task instead so that
        threads created later are seen too (the backend keeps only the target's wakeups).
        The fds come ``disabled``; the session enables them once the rings are mapped.
        """
        if not target.system_wide and self.grants("system_wide"):
            target = attrs.evolve(target, pids=(), system_wide=True)
        request = self.request("sched_waking", target, kernel_stacks=kernel, wakeup_bytes=wakeup_bytes)
        granted = self.ask(request) if request is not None else None
        if granted is None:
            return None
        if not self._decodable(granted, pea.SHARED_RING_SAMPLE_TYPE | pea.PERF_SAMPLE_RAW):
            return None
        fields = dict(granted[0][1].raw_fields) if granted else {}
        if "pid" not in fields:
            close_granted(granted)
            return None
        events = self.per_cpu(granted, "enabled")  # enable_wakeups() starts them after mapping
        if events is None:
            return None
        self.modes["sched_waking"] = STAXD
        return events, fields

    def counters(self, target: StaxdTarget, *, identifier: bool) -> list[CounterGroup] | None:
        """The counter groups, one per (thread, CPU), through staxd; None if not granted."""
        request = self.request("counters", target, identifier=identifier)
        if request is not None:
            request = attrs.evolve(request, cpus=tuple(self.cpus))  # per CPU: mappable (perf_counters)
        granted = self.ask(request) if request is not None else None
        if granted is None or request is None:
            return None
        keys = {spec.event: spec.key for spec in perf_counters.COUNTER_GROUP}
        groups: dict[int, CounterGroup] = {}
        for fd, d in granted:
            leader = d.index if d.group is None else d.group
            group = groups.get(leader)
            if group is None:
                group = groups[leader] = CounterGroup(d.pid, d.tid, d.cpu, [], [], [])
            group.fds.append(fd)
            group.ids.append(d.event_id)
            group.keys.append(keys.get(d.event, d.event))
        if request.start == "disabled":
            self.to_enable.extend(group.leader for group in groups.values())
        self.modes["counters"] = STAXD
        return list(groups.values())

    # -- bookkeeping ----------------------------------------------------------------------------

    def opened_in_process(self, event_set: str) -> None:
        self.modes.setdefault(event_set, IN_PROCESS)

    def lose(self, what: str) -> None:
        """Record that ``what`` (one of the loss names above) is missing from this recording."""
        if what not in self.lost:
            self.lost.append(what)

    def enable_granted(self) -> None:
        """PERF_EVENT_IOC_ENABLE every granted fd that came ``disabled`` (after the rings are mapped)."""
        for fd in self.to_enable:
            try:
                enable(fd)
            except PerfEventError as exc:
                raise CaptureError(f"Cannot start the events staxd opened ({os.strerror(exc.errno or 0)}).") \
                    from None
        self.to_enable = []

    def staxd_reason(self) -> str:
        """Why staxd did not help, as a clause (no final period)."""
        failure = self.failure
        if failure is None:
            return "staxd was not asked"
        if isinstance(failure, StaxdUnavailable):
            if failure.kind == "not-running":
                return "staxd is not running"
            if failure.kind == "no-access":
                return "you may not use staxd's socket"
            return "staxd did not answer"
        text = str(failure).removeprefix("staxd refused: ").rstrip(".")
        text = text[:1].lower() + text[1:]
        return f"staxd refused ({text})" if isinstance(failure, StaxdRefused) else f"staxd failed ({text})"

    def note(self) -> str | None:
        """The one sentence saying what this recording lacks and how to get it; None if nothing."""
        if not self.lost:
            return None
        lost = [what for what in _ORDER if what in self.lost]
        causes = []
        if any(what in _PARANOID_CURES for what in lost):
            causes.append(f"kernel.perf_event_paranoid is {self.paranoid}")
        if WAKEUPS in lost:
            causes.append("the sched_waking tracepoint needs root")
        fixes = []
        if self.kernel_stacks_off_by_policy() and any(what in _KERNEL_MODE for what in lost):
            causes.append("staxd's policy turns kernel stacks off")
            fixes.append(f"set allow_kernel_stacks = true in {self._policy_file()} and restart staxd")
        if not fixes or self.failure is not None and not set(lost) <= _KERNEL_MODE:
            causes.append(self.staxd_reason())
            fixes.append(self._staxd_fix())
        fix = ", or ".join(fixes)
        if any(what in _PARANOID_CURES for what in lost):
            fix += ", or run 'sudo sysctl kernel.perf_event_paranoid=1'"
            if WAKEUPS in lost:
                fix += " (all but wakeups)"
        elif WAKEUPS in lost:
            fix += ", or run stax as root"
        text = f"{_join(lost)} are missing because {_join(causes)}; to record them, {fix}."  # all plural
        return text[:1].upper() + text[1:]

    def _policy_file(self) -> str:
        """The policy file staxd names in its hello (a daemon too old to name it reads the default)."""
        return str((self._hello or {}).get("policy_file") or "/etc/stax/staxd.toml")

    def _staxd_fix(self) -> str:
        failure = self.failure
        if isinstance(failure, StaxdUnavailable) and failure.kind == "no-access":
            return "join group 'stax' ('sudo usermod -aG stax USER', then log in again)"
        if isinstance(failure, StaxdRefused):
            return "ask your administrator to allow it in staxd's policy"
        return "install staxd once with 'sudo stax setup' and join group 'stax'"

    def close(self) -> None:
        self._client.close()


@attrs.define
class OffCpuStaxd:
    """What :func:`stax_backend_linux.off_cpu.events.open_off_cpu` may ask staxd for, for one target."""

    opener: EventOpener
    target: StaxdTarget
    wakeup_bytes: int
    kernel: bool = True
    """Kernel frames are wanted (they come only if staxd's policy grants kernel stacks)."""
    dwarf: DwarfSampling | None = None
    """The user register and stack dump of each switch-out sample (--call-graph fp or dwarf)."""

    def kernel_granted(self) -> bool:
        """Whether the off-CPU stacks and wakeups staxd grants carry kernel frames."""
        return self.kernel and self.opener.grants("kernel_stacks")

    def switch_with_stacks(self) -> PerCpuEvents | None:
        return self.opener.context_switch(self.target, kernel=self.kernel_granted(),
                                          wakeup_bytes=self.wakeup_bytes, dwarf=self.dwarf)

    def sched_waking(self) -> tuple[PerCpuEvents, dict[str, tuple[int, int, bool]]] | None:
        return self.opener.sched_waking(self.target, kernel=self.kernel_granted(),
                                        wakeup_bytes=self.wakeup_bytes)

    def sample_ip(self, event_id: int) -> bool:
        """Whether staxd's fd ``event_id`` has PERF_SAMPLE_IP (True for fds staxd did not grant)."""
        return bool(self.opener.sample_types.get(event_id, pea.PERF_SAMPLE_IP) & pea.PERF_SAMPLE_IP)

    def lose(self, what: str) -> None:
        self.opener.lose(what)


def _dump_fields(dwarf: DwarfSampling | None) -> dict[str, Any]:
    """The request fields that ask staxd for ``dwarf``'s dump (none for pure frame pointers)."""
    if dwarf is None:
        return {}
    return {"call_graph": "hybrid" if dwarf.user_callchain else "dwarf", "dwarf_stack_size": dwarf.stack_size}


def open_counter_groups(opener: EventOpener, target: StaxdTarget, facts: HostFacts, *,
                        threads: Sequence[tuple[int, int]], identifier: bool, kernel: bool,
                        ) -> tuple[list[CounterGroup], str | None]:
    """The counter groups for ``threads`` (in-process, or through staxd), and a note if there are none.

    No PMU: nothing is asked of anyone, and the note says so.  Counting kernel mode
    in-process needs what kernel stacks need (paranoid <= 1 or CAP_PERFMON); otherwise
    staxd is asked if its policy grants kernel stacks (staxd counts kernel mode only then),
    and failing that the groups count user mode only in-process.
    """
    if target.system_wide:
        return [], ("Hardware counters are recorded per thread, so not with -a; record a command or -p PID "
                    "with --counters.")
    if not facts.has_pmu:
        return [], no_pmu_sentence(facts.pmu_errno)
    in_process_kernel = kernel and facts.kernel_stacks_allowed
    staxd_kernel = kernel and not in_process_kernel and opener.grants("kernel_stacks")
    groups = opener.counters(target, identifier=identifier) if staxd_kernel or facts.pmu_errno else None
    if kernel and not in_process_kernel and not (groups is not None and staxd_kernel):
        opener.lose(KERNEL_COUNTS)  # staxd absent, refusing, or its policy keeps kernel mode off
    if groups is not None:
        return groups, None
    try:
        groups = open_groups(threads, opener.cpus, kernel=in_process_kernel, enable_on_exec=target.command,
                             identifier=identifier)
    except PerfEventError as exc:
        if exc.errno in NO_PMU_ERRNOS:
            return [], no_pmu_sentence(exc.errno or 0)
        opener.lose(HARDWARE_COUNTERS)
        return [], None
    opener.opened_in_process("counters")
    return groups, None
