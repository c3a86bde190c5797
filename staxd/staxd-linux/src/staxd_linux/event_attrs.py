"""The perf_event_attr of each named event set staxd can open.

Sampling, context switches and sched_waking reuse the backend's builders
(``stax_backend_linux.perf_event_attr``), so a staxd grant has exactly the record
layout an in-process recording has and can share its rings and decoder; staxd
only sets how the events start, DWARF's user registers and stack, and what the
policy strips.  The counter group is the backend's too
(``stax_backend_linux.counter_group``); constants are from
include/uapi/linux/perf_event.h.
"""

from __future__ import annotations

import platform
from typing import Any

from stax_backend_linux import counter_group
from stax_backend_linux import perf_event_attr as pea
from stax_backend_linux.counter_group import COUNTER_READ_FORMAT, CounterSpec
from stax_backend_linux.dwarf_sampling import DwarfSampling

PERF_SAMPLE_REGS_USER = 1 << 12
PERF_SAMPLE_STACK_USER = 1 << 13

# User registers a DWARF unwinder needs, as perf --call-graph dwarf asks for them
# (arch/*/include/uapi/asm/perf_regs.h).  x86-64: AX..R15 (bits 0-23) minus the
# segment registers DS, ES, FS, GS (bits 12-15).  arm64: x0..x30, sp, pc (33 bits).
DWARF_REGS_USER = {"x86_64": (1 << 24) - 1 & ~(0xF << 12), "aarch64": (1 << 33) - 1, "arm64": (1 << 33) - 1}

__all__ = ["COUNTER_READ_FORMAT", "CounterSpec", "context_switch", "counter", "sampling", "sched_waking"]


def _apply_start(attr: Any, start: str) -> None:
    """``disabled``: the client enables with an ioctl; ``enabled``; ``on_exec``: the kernel does at exec."""
    attr.flags &= ~pea.flag_word(["disabled", "enable_on_exec"])
    attr.flags |= pea.flag_word({"disabled": ["disabled"], "enabled": [],
                                 "on_exec": ["disabled", "enable_on_exec"]}[start])


def _dwarf(attr: Any, stack_size: int) -> None:
    """Ask for the user registers and stack copy a userspace DWARF unwinder replays.

    On x86-64 this is the backend's own ``DwarfSampling`` (its register mask, and
    ``exclude_callchain_user``), so the dump has exactly the layout stax record decodes.
    """
    if platform.machine() == "x86_64":
        DwarfSampling(stack_size).apply(attr)
        return
    attr.sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER
    attr.sample_regs_user = DWARF_REGS_USER.get(platform.machine(), 0)
    attr.sample_stack_user = stack_size


def sampling(frequency: int, *, kernel: bool, inherit: bool, start: str, wakeup_bytes: int,
             call_graph: str, dwarf_stack_size: int, identifier: bool) -> Any:
    """The cpu-clock sampling event, exactly as the in-process backend opens it, plus start/dwarf.

    ``identifier`` (PERF_SAMPLE_IDENTIFIER) is for a ring shared with the off-CPU events.
    """
    attr = pea.sampling_attr(frequency, kernel=kernel, enable_on_exec=start == "on_exec",
                             inherit=inherit, wakeup_bytes=wakeup_bytes, identifier=identifier)
    _apply_start(attr, start)
    if call_graph == "dwarf":
        _dwarf(attr, dwarf_stack_size)
    return attr


def _no_kernel_addresses(attr: Any) -> None:
    """Strip what carries kernel addresses from an event that must stay in kernel mode.

    A switch-out sample and a sched_waking sample are taken with kernel registers (the
    scheduler's, the tracepoint's), so their event cannot exclude kernel mode; instead
    their IP (always a kernel address) and the kernel part of the call chain go.  The
    client reads the layout from the fd's sample_type (record_decoder.register sample_ip).
    """
    attr.sample_type &= ~pea.PERF_SAMPLE_IP
    attr.flags |= pea.flag_word(["exclude_callchain_kernel"])


def context_switch(*, kernel: bool, inherit: bool, start: str, wakeup_bytes: int, call_graph: str,
                   dwarf_stack_size: int) -> Any:
    """The backend's context-switch event: PERF_RECORD_SWITCH in/out, and a sample with the
    stack at every switch-out.

    The switch-out sample is taken with the scheduler's (kernel) registers, so the event
    measures kernel mode either way.  Without ``kernel`` its sample keeps only the user
    stack (the wait site's syscall) and has no IP: no kernel address reaches the client,
    and the switch records themselves carry none.
    """
    attr = pea.context_switch_attr(stacks=True, kernel_callchain=kernel, enable_on_exec=start == "on_exec",
                                   inherit=inherit, wakeup_bytes=wakeup_bytes)
    _apply_start(attr, start)
    if not kernel:
        _no_kernel_addresses(attr)
    if call_graph == "dwarf":
        _dwarf(attr, dwarf_stack_size)
    return attr


def sched_waking(tracepoint: int, *, kernel: bool, user_stacks: bool, start: str, wakeup_bytes: int) -> Any:
    """The backend's sched:sched_waking event: who woke whom, with the waker's stack.

    It fires in the waker's context, so it is opened per CPU for every task and the
    wakee is in the raw data (field ``pid``).  ``kernel`` False drops the kernel chain
    and the sample IP (the tracepoint's kernel site); ``user_stacks`` False drops the
    waker's user stack (the waker may be another user's process).
    """
    attr = pea.sched_waking_attr(tracepoint, kernel_callchain=kernel, wakeup_bytes=wakeup_bytes)
    _apply_start(attr, start)
    if not kernel:
        _no_kernel_addresses(attr)
    if not user_stacks:
        attr.flags |= pea.flag_word(["exclude_callchain_user"])
    return attr


def counter(spec: CounterSpec, *, leader: bool, kernel: bool, inherit: bool, start: str,
            identifier: bool = False) -> Any:
    """The backend's counter-group member (``counter_group.counter_attr``: ``inherit`` +
    ``inherit_stat``, GROUP|ID|TIMES reads, the ring's sample_id layout); only the leader
    carries the start flags."""
    attr = counter_group.counter_attr(spec, leader=leader, kernel=kernel, inherit=inherit,
                                      enable_on_exec=False, identifier=identifier)
    if leader:
        _apply_start(attr, start)
    return attr
