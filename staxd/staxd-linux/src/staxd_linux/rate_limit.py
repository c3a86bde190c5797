"""Holding a sampling grant to its frequency in the kernel, after the fds have left staxd.

Why: whoever holds a perf fd may change its rate with PERF_EVENT_IOC_PERIOD
(kernel/events/core.c, ``_perf_event_period``).  In frequency mode the kernel caps the
value only at kernel.perf_event_max_sample_rate; in period mode not at all (any
non-zero period without bit 63).  cpu-clock is in period mode once opened: the kernel
turns ``sample_freq`` into a fixed period of 1e9/freq ns (``perf_swevent_init_hrtimer``),
so asking staxd for a period instead of a frequency would change nothing.  A file
description cannot be revoked, so the policy's max_frequency has to live in the event.

How: each granted sampling event gets a BPF_PROG_TYPE_PERF_EVENT program through
PERF_EVENT_IOC_SET_BPF.  The kernel runs it at every overflow and writes the sample
only if it returns non-zero (``__perf_event_overflow``); an event takes one program
and refuses a second (EEXIST), so the holder can neither remove nor replace it, and
inherited (per-thread) events carry the parent's program.  The program is a generic
cell rate algorithm per CPU: a BPF_MAP_TYPE_PERCPU_ARRAY holds one u64, the
theoretical arrival time (TAT) of the next sample; a sample more than ``BURST_NS``
ahead of its TAT is dropped, else it is written and TAT becomes max(now, TAT) + 1e9/freq.
So each CPU delivers at most ``freq`` samples a second plus one burst, which is what
cpu-clock at ``freq`` produces at most on one CPU (it counts CPU time).  The map is
shared by every event of one grant.

What the kernel still allows: the interrupts themselves.  A raised rate still fires the
hrtimer and builds each sample (call chain, stack size) before the program drops it;
that cost is bounded by kernel.perf_event_max_sample_rate and perf_cpu_time_max_percent
(docs/staxd.md says this plainly).

Without BPF (no CONFIG_BPF_SYSCALL, no CAP_BPF, a seccomp filter) grants still work and
:func:`enforcement` says the rate is enforced only when the events are opened.
"""

from __future__ import annotations

import errno
import fcntl
import os
from functools import cache

from stax_backend_linux import perf_event_attr as pea
from stax_backend_linux.perf_event_ffi import PerfEventError, perf_event_open
from staxd_linux import bpf_insn as b
from staxd_linux.bpf_syscall import (
    BPF_MAP_TYPE_PERCPU_ARRAY,
    BPF_PROG_TYPE_PERF_EVENT,
    BpfError,
    create_map,
    load_program,
)

PERF_EVENT_IOC_SET_BPF = 0x40042408  # _IOW('$', 8, __u32), include/uapi/linux/perf_event.h
NSEC_PER_SEC = 1_000_000_000
BURST_NS = 10_000_000
"""How far ahead of its schedule a sample may come: 10 ms of samples, for hrtimer jitter and for
threads of one target whose periods end close together on one CPU."""

KERNEL = "kernel"
OPEN_TIME = "open-time"


class RateLimitError(Exception):
    """The rate limit could not be set up or attached; ``str()`` is a clause for a sentence."""


def program(map_fd: int, period_ns: int, burst_ns: int = BURST_NS) -> bytes:
    """The BPF_PROG_TYPE_PERF_EVENT program: 1 (write the sample) if it keeps to the rate, else 0.

    The numbers on the left are instruction slots; a jump's offset counts the slots after it.
    """
    return b"".join([
        b.store32_imm(b.R10, -4, 0),                 # 0   u32 key = 0 (on the stack)
        b.ld_map_fd(b.R1, map_fd),                   # 1-2 r1 = &map
        b.mov64_reg(b.R2, b.R10),                    # 3
        b.add64_imm(b.R2, -4),                       # 4   r2 = &key
        b.call(b.BPF_FUNC_map_lookup_elem),          # 5   r0 = &tat (this CPU's), or NULL
        b.jump_if_imm(b.BPF_JEQ, b.R0, 0, 12),       # 6   NULL: drop (19)
        b.mov64_reg(b.R6, b.R0),                     # 7   r6 = &tat (callee-saved)
        b.call(b.BPF_FUNC_ktime_get_ns),             # 8   r0 = now
        b.load64(b.R1, b.R6, 0),                     # 9   r1 = tat
        b.mov64_reg(b.R2, b.R0),                     # 10
        b.add64_imm(b.R2, burst_ns),                 # 11  r2 = now + burst
        b.jump_if_reg(b.BPF_JGT, b.R1, b.R2, 6),     # 12  tat > now + burst: too early, drop (19)
        b.jump_if_reg(b.BPF_JGE, b.R1, b.R0, 1),     # 13  tat >= now: keep it (15)
        b.mov64_reg(b.R1, b.R0),                     # 14  else tat = now
        b.add64_imm(b.R1, period_ns),                # 15  tat += period
        b.store64(b.R6, 0, b.R1),                    # 16
        b.mov64_imm(b.R0, 1),                        # 17
        b.exit_(),                                   # 18  write the sample
        b.mov64_imm(b.R0, 0),                        # 19  drop:
        b.exit_(),                                   # 20  drop the sample
    ])


class RateLimit:
    """One grant's limiter: the per-CPU map and the loaded program, attached to each sampling fd.

    The events keep their own references to the program (and it to the map), so
    :meth:`close` after attaching leaves the limit in force for as long as the fds live.
    """

    def __init__(self, frequency: int) -> None:
        period_ns = max(1, NSEC_PER_SEC // frequency)
        self.map_fd = -1
        self.prog_fd = -1
        try:
            self.map_fd = create_map(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 1, "staxd_rate")
            self.prog_fd = load_program(BPF_PROG_TYPE_PERF_EVENT, program(self.map_fd, period_ns),
                                        "staxd_rate")
        except BpfError as exc:
            self.close()
            detail = f"; verifier: {exc.log.strip().splitlines()[-1]}" if exc.log.strip() else ""
            raise RateLimitError(f"{exc}{detail}") from None

    def attach(self, fd: int) -> None:
        """PERF_EVENT_IOC_SET_BPF: from now on the kernel asks the program before writing a sample."""
        try:
            fcntl.ioctl(fd, PERF_EVENT_IOC_SET_BPF, self.prog_fd)
        except OSError as exc:
            code = errno.errorcode.get(exc.errno or 0, exc.errno)
            raise RateLimitError(f"PERF_EVENT_IOC_SET_BPF fails with {code}") from None

    def close(self) -> None:
        for fd in (self.prog_fd, self.map_fd):
            if fd >= 0:
                os.close(fd)
        self.map_fd = self.prog_fd = -1

    def __enter__(self) -> RateLimit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@cache
def unavailable() -> str:
    """Why sampling rates cannot be enforced in the kernel here ('' when they can), found once.

    The probe does what a grant does: load the program and attach it to a cpu-clock
    sampling event (opened disabled, on staxd itself).
    """
    try:
        with RateLimit(1) as limit:
            attr = pea.new_attr(pea.PERF_TYPE_SOFTWARE, pea.PERF_COUNT_SW_CPU_CLOCK, ["disabled"],
                                sample_period=NSEC_PER_SEC)
            fd = perf_event_open(attr, 0, -1)
            try:
                limit.attach(fd)
            finally:
                os.close(fd)
    except RateLimitError as exc:
        return str(exc)
    except PerfEventError as exc:
        return f"perf_event_open fails with {errno.errorcode.get(exc.errno or 0, exc.errno)}"
    return ""


def enforcement() -> str:
    """``kernel`` when each grant's rate is held by a BPF program, ``open-time`` when only checked at open."""
    return OPEN_TIME if unavailable() else KERNEL


def describe() -> str:
    """The start-up log line: how max_frequency is held on this host."""
    why = unavailable()
    if not why:
        return "sampling rates are held in the kernel (a BPF program on each granted sampling event)"
    return (f"sampling rates are enforced only when events are opened, because BPF is unavailable ({why}); "
            f"a member can raise a granted event's rate with PERF_EVENT_IOC_PERIOD")
