"""Was a wakeup done by a thread, or by an interrupt that happened to land on one?

``sched_waking`` reports the *current* task as the waker.  In interrupt context
(a timer expiring for ``nanosleep``, a disk or network completion) that task is
merely whichever thread the interrupt interrupted, often an unrelated process,
and the user part of its stack is noise.  The waker stack tells the two apart:
a kernel interrupt-entry frame (x86-64 ``asm_sysvec_*`` / ``asm_common_interrupt``,
arm64 ``el1_interrupt`` / ``el0_interrupt`` / ``gic_handle_irq``, softirq
processing) means the wakeup came from the interrupt, and the views then name
the interrupt, not the interrupted thread, and show the stack from that entry on.
Interrupts nest (a timer firing during softirq processing), so the innermost
entry is the one that did the waking.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from pathlib import Path

from stax.analysis.profile import DisplayFrame
from stax.recording.reader import FrameLabel
from stax.recording.validation import unknown_stack
from stax.stack_table import EMPTY_STACK

INTERRUPT_ENTRY_PREFIXES = (
    "asm_sysvec_", "asm_common_interrupt", "apic_timer_interrupt", "common_interrupt",
    "el1_interrupt", "el0_interrupt",
    "handle_softirqs", "__do_softirq",
)
"""Kernel frames that enter hard-interrupt (x86-64, arm64) or softirq context."""

TIMER_INTERRUPT = "[timer interrupt]"
SOFTIRQ = "[softirq]"
INTERRUPT = "[interrupt]"


def is_interrupt_entry(frame: DisplayFrame | FrameLabel) -> bool:
    return frame.is_kernel and frame.name.startswith(INTERRUPT_ENTRY_PREFIXES)


def interrupt_start(stack: Sequence[DisplayFrame | FrameLabel]) -> int | None:
    """Index (root first) of the innermost interrupt-entry frame; None for a thread's own wakeup."""
    for index in range(len(stack) - 1, -1, -1):
        if is_interrupt_entry(stack[index]):
            return index
    return None


def interrupt_name(stack: Sequence[DisplayFrame | FrameLabel]) -> str:
    """``[timer interrupt]``, ``[softirq]`` or ``[interrupt]``, from the interrupt part of a stack."""
    names = [frame.name for frame in stack if frame.is_kernel]
    if any("hrtimer" in name or "timer_interrupt" in name for name in names):
        return TIMER_INTERRUPT
    if any("softirq" in name for name in names):
        return SOFTIRQ
    return INTERRUPT


class RawStackContexts:
    """Classifies raw stack ids of a recording, memoised: per distinct stack, never per wakeup."""

    def __init__(self, labels: Sequence[FrameLabel], parents: array, frames: array,
                 source: str | Path = "The recording") -> None:
        self.source = source
        self.labels = labels
        self.parents = parents
        self.frames = frames
        self._memo: dict[int, str | None] = {}

    def interrupt_of(self, stack_id: int) -> str | None:
        """The interrupt name when ``stack_id`` runs in interrupt context, else None."""
        if stack_id in self._memo:
            return self._memo[stack_id]
        chain: list[FrameLabel] = []
        stack = stack_id
        count, labels = len(self.parents), len(self.labels)
        while stack != EMPTY_STACK:
            # wakeup stack ids are checked here, as in DisplayTreeBuilder.node_of
            if (type(stack) is not int or not 0 <= stack < count or len(chain) >= count
                    or not 0 <= self.frames[stack] < labels):
                raise unknown_stack(self.source, stack_id, looped=len(chain) >= count)
            chain.append(self.labels[self.frames[stack]])
            stack = self.parents[stack]
        chain.reverse()  # root first
        start = interrupt_start(chain)
        result = None if start is None else interrupt_name(chain[start:])
        self._memo[stack_id] = result
        return result
