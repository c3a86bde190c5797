"""Reassembling one kperf sample from the run of events that carries it.

kperf logs a sample with interrupts disabled, so its events are contiguous on one
CPU, traced by one thread (osfmk/kperf/action.c ``kperf_sample_internal``)::

    PERF_GEN_EVENT|START   samplers, action, user data, sample flags
    PERF_TI_DATA           pid, tid, dispatch queue, run mode
    PERF_CS_KHDR           flags, frame count, async index, async frame count
    PERF_CS_KDATA ...      four frames per event, ceil(count / 4) events
    PERF_KPC_DATA_THREAD   four counters per event
    PERF_GEN_EVENT|END     samplers, meta flags (UPEND: the user stack comes later)

A timer fires in interrupt context, where user memory cannot be read, so the user
stack is pended to the thread's next return to user space and logged then as a
block of its own (``kperf_sample_user_internal``): GEN_EVENT|START (samplers,
action), PERF_CS_UHDR + PERF_CS_UDATA, PERF_TI_DATA, GEN_EVENT|END.  Blocks are
keyed by (cpu, arg5) as the events of one block share both.

Frames: the first word is the PC, the others return addresses; the last synchronous
word is a fixup (the link register or the word at the stack pointer) that xnu's own
tests drop, and so do we, except for a kernel continuation (a single word, no
fixup).  Swift async frames (after the synchronous ones) are not kept.
"""

from __future__ import annotations

import attrs

from stax_backend_macos.kd_buf import KdRecord
from stax_backend_macos.kdebug_codes import (
    CALLSTACK_CONTINUATION,
    CALLSTACK_TRUNCATED,
    CALLSTACK_VALID,
    DBG_FUNC_END,
    DBG_FUNC_START,
    PERF_CS_KDATA,
    PERF_CS_KHDR,
    PERF_CS_UDATA,
    PERF_CS_UHDR,
    PERF_GEN_EVENT,
    PERF_KPC_DATA_THREAD,
    PERF_TI_DATA,
    SAMPLE_FLAG_NON_INTERRUPT,
    SAMPLE_META_THREAD_WAS_IDLE,
    SAMPLE_META_UPEND,
)

MAX_FRAMES = 512
"""More frames than a header may announce (xnu: 128 kernel, 256 user); a larger count is damage."""


@attrs.define(slots=True)
class _Stack:
    flags: int
    expected: int
    """Words the data events will carry (synchronous + async)."""
    synchronous: int
    words: list[int] = attrs.field(factory=list)

    def frames(self) -> tuple[int, ...]:
        """The synchronous frames, fixup dropped, zero words (padding) removed."""
        if not self.flags & CALLSTACK_VALID:
            return ()
        sync = self.words[: self.synchronous]
        if not self.flags & CALLSTACK_CONTINUATION and sync:
            sync = sync[:-1]
        return tuple(w for w in sync if w)

    @property
    def truncated(self) -> bool:
        return bool(self.flags & CALLSTACK_TRUNCATED)


@attrs.define(slots=True)
class _Block:
    time: int
    cpu: int
    traced_by: int
    samplers: int
    sample_flags: int
    pid: int | None = None
    tid: int | None = None
    kernel: _Stack | None = None
    user: _Stack | None = None
    counters: list[int] = attrs.field(factory=list)


@attrs.frozen(slots=True)
class KperfSample:
    """One sample as kperf logged it; times are mach ticks, as in the records."""

    time: int
    cpu: int
    pid: int | None
    tid: int
    kernel_frames: tuple[int, ...] = ()
    user_frames: tuple[int, ...] = ()
    user_truncated: bool = False
    has_user_stack: bool = False
    user_pending: bool = False
    """The user stack was deferred: a later user-only block for ``tid`` brings it."""
    at_switch: bool = False
    """Taken when the thread came on-core (lightweight PET), not by a timer: the stack
    shows where it had blocked."""
    user_only: bool = False
    """A deferred user stack arriving on its own: no kernel part, nothing else in it."""
    idle: bool = False
    counters: tuple[int, ...] = ()


class SampleAssembler:
    """Feeds on DBG_PERF records; returns each sample when its END arrives.

    ``skipped`` counts what could not be used: a block cut short (a new START before
    its END, data without a header) or a header announcing an impossible frame count.
    """

    def __init__(self) -> None:
        self._open: dict[tuple[int, int], _Block] = {}
        self.skipped: dict[str, int] = {}

    def _skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def feed(self, record: KdRecord, event_id: int) -> KperfSample | None:
        key = (record.cpu, record.tid)
        func = record.debugid & (DBG_FUNC_START | DBG_FUNC_END)
        if event_id == PERF_GEN_EVENT:
            if func & DBG_FUNC_START:
                if key in self._open:
                    self._skip("kperf samples cut short (a new sample began before the last ended)")
                self._open[key] = _Block(record.timestamp, record.cpu, record.tid, record.arg1, record.arg4)
                return None
            if func & DBG_FUNC_END:
                block = self._open.pop(key, None)
                if block is None:
                    self._skip("kperf sample ends whose start was not in the trace")
                    return None
                return self._finish(block, record.arg2)
            return None
        block = self._open.get(key)
        if block is None:
            return None  # timer and PET bookkeeping events outside a sample
        if event_id == PERF_TI_DATA:
            block.pid, block.tid = record.arg1, record.arg2
        elif event_id in (PERF_CS_KHDR, PERF_CS_UHDR):
            synchronous, async_frames = record.arg2, record.arg4
            if synchronous + async_frames > MAX_FRAMES:
                self._skip("kperf callstacks announcing more frames than kperf takes")
                return None
            stack = _Stack(record.arg1, synchronous + async_frames, synchronous)
            if event_id == PERF_CS_KHDR:
                block.kernel = stack
            else:
                block.user = stack
        elif event_id in (PERF_CS_KDATA, PERF_CS_UDATA):
            stack = block.kernel if event_id == PERF_CS_KDATA else block.user
            if stack is None:
                self._skip("kperf callstack data without its header")
            elif len(stack.words) < stack.expected:
                stack.words.extend((record.arg1, record.arg2, record.arg3, record.arg4))
        elif event_id == PERF_KPC_DATA_THREAD:
            block.counters.extend((record.arg1, record.arg2, record.arg3, record.arg4))
        return None

    def _finish(self, block: _Block, meta_flags: int) -> KperfSample:
        user = block.user
        has_user = user is not None
        user_only = has_user and block.kernel is None and block.sample_flags == 0
        return KperfSample(
            time=block.time,
            cpu=block.cpu,
            pid=block.pid,
            tid=block.tid if block.tid is not None else block.traced_by,
            kernel_frames=block.kernel.frames() if block.kernel is not None else (),
            user_frames=user.frames() if user is not None else (),
            user_truncated=user.truncated if user is not None else False,
            has_user_stack=has_user,
            user_pending=not user_only and bool(meta_flags & SAMPLE_META_UPEND),
            at_switch=bool(block.sample_flags & SAMPLE_FLAG_NON_INTERRUPT),
            user_only=user_only,
            idle=not user_only and bool(meta_flags & SAMPLE_META_THREAD_WAS_IDLE),
            counters=tuple(block.counters),
        )

    def abandon(self) -> None:
        """The trace ended: samples still open are incomplete."""
        for _ in self._open:
            self._skip("kperf samples cut off by the end of the trace")
        self._open.clear()
