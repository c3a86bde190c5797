"""Event set -> ``perf_event_attr``: the one builder ``stax record`` and staxd both open events with.

An event set is what the staxd protocol names (``sampling``, ``context_switch``,
``sched_waking``, ``counters``) and what the in-process backend opens for the same
purpose.  Both call these functions, so a staxd grant has exactly the record layout of
an in-process event and shares its rings (PERF_EVENT_IOC_SET_OUTPUT) and decoder.  The
per-kind attrs come from :mod:`.perf_event_attr` and :mod:`.perf_counters`; an event set
adds how the events start, the DWARF call-graph dump and, for a user who may not see
kernel addresses, what carries them.
"""

from __future__ import annotations

from typing import Any

from stax_binfmt import perf_event_attr as pea
from stax_binfmt.perf_counters import CounterSpec, counter_attr
from stax_binfmt.perf_dwarf_callgraph import DwarfSampling
from stax_binfmt.perf_event_names import EventChoice

STARTS = ("disabled", "enabled", "on_exec")
"""``disabled``: the opener enables them with an ioctl (once its rings are mapped);
``enabled``; ``on_exec``: the kernel does, when the held command execs."""


def apply_start(attr: Any, start: str) -> None:
    """Set the flags that decide how an event starts (one of :data:`STARTS`)."""
    attr.flags &= ~pea.flag_word(["disabled", "enable_on_exec"])
    attr.flags |= pea.flag_word({"disabled": ["disabled"], "enabled": [],
                                 "on_exec": ["disabled", "enable_on_exec"]}[start])


def no_kernel_addresses(attr: Any) -> None:
    """Strip what carries kernel addresses from an event that must stay in kernel mode.

    A switch-out sample and a sched_waking sample are taken with kernel registers (the
    scheduler's, the tracepoint's), so their event cannot exclude kernel mode; instead
    their IP (always a kernel address) and the kernel part of the call chain go.  The
    reader learns the layout from the fd's sample_type (record_decoder.register sample_ip).
    """
    attr.sample_type &= ~pea.PERF_SAMPLE_IP
    attr.flags |= pea.flag_word(["exclude_callchain_kernel"])


def sampling(frequency: int, *, kernel: bool, inherit: bool, start: str, wakeup_bytes: int,
             dwarf: DwarfSampling | None = None, identifier: bool = False,
             event: EventChoice | None = None, period: int | None = None) -> Any:
    """The sampling event (cpu-clock, or ``event`` from ``-e``), with the DWARF call-graph dump
    when ``dwarf`` is given; ``period`` (``-c``) samples every that many events instead of
    ``frequency`` times a second.

    ``identifier`` (PERF_SAMPLE_IDENTIFIER) is for a ring shared with the off-CPU events.
    """
    kind = (event.type, event.config) if event is not None else (pea.PERF_TYPE_SOFTWARE,
                                                                pea.PERF_COUNT_SW_CPU_CLOCK)
    attr = pea.sampling_attr(frequency, kernel=kernel, enable_on_exec=start == "on_exec",
                             inherit=inherit, wakeup_bytes=wakeup_bytes, identifier=identifier,
                             event=kind, period=period)
    apply_start(attr, start)
    if dwarf is not None:
        dwarf.apply(attr)
    return attr


def context_switch(*, kernel: bool, inherit: bool, start: str, wakeup_bytes: int, stacks: bool = True,
                   dwarf: DwarfSampling | None = None) -> Any:
    """PERF_RECORD_SWITCH in/out and, with ``stacks``, a sample with the stack at every switch-out.

    The switch-out sample is taken with the scheduler's (kernel) registers, so the event
    measures kernel mode either way.  Without ``kernel`` its sample keeps only the user
    stack (the wait site's syscall) and has no IP: no kernel address reaches the reader,
    and the switch records themselves carry none.  Without ``stacks`` it is the dummy
    event that writes only the switch records (user mode, allowed at paranoid 2).
    """
    attr = pea.context_switch_attr(stacks=stacks, kernel_callchain=stacks and kernel,
                                   enable_on_exec=start == "on_exec", inherit=inherit,
                                   wakeup_bytes=wakeup_bytes)
    apply_start(attr, start)
    if stacks and not kernel:
        no_kernel_addresses(attr)
    if dwarf is not None:
        dwarf.apply(attr)
    return attr


def sched_waking(tracepoint: int, *, kernel: bool, wakeup_bytes: int, user_stacks: bool = True,
                 start: str = "disabled") -> Any:
    """sched:sched_waking: who woke whom, with the waker's stack.

    It fires in the waker's context, so it is opened per CPU for every task and the
    wakee is in the raw data (field ``pid``).  ``kernel`` False drops the kernel chain
    and the sample IP (the tracepoint's kernel site); ``user_stacks`` False drops the
    waker's user stack (the waker may be another user's process).
    """
    attr = pea.sched_waking_attr(tracepoint, kernel_callchain=kernel, wakeup_bytes=wakeup_bytes)
    apply_start(attr, start)
    if not kernel:
        no_kernel_addresses(attr)
    if not user_stacks:
        attr.flags |= pea.flag_word(["exclude_callchain_user"])
    return attr


def counter(spec: CounterSpec, *, leader: bool, kernel: bool, inherit: bool, start: str,
            identifier: bool = False, sample_read: bool = True) -> Any:
    """One member of the counter group (:func:`.perf_counters.counter_attr`); only the leader
    carries the start flags: a member counts only while its leader is enabled."""
    attr = counter_attr(spec, leader=leader, kernel=kernel, inherit=inherit, enable_on_exec=False,
                        identifier=identifier, sample_read=sample_read)
    if leader:
        apply_start(attr, start)
    return attr
