"""The sched:sched_switch tracepoint: one sample -> the switch records of both tasks.

``perf record -e sched:sched_switch -g`` samples the tracepoint in the task leaving the
CPU (``prev``), so the sample's callchain is that task's stack at the switch-out, and
PERF_SAMPLE_RAW holds the tracepoint record: ``prev_pid``, ``prev_state``, ``next_pid``
among its fields.  Their offsets come from the event's format (tracefs
``events/sched/sched_switch/format``, or the copy perf.data keeps in its tracing data),
never assumed.  A sample becomes the three records the switch tracker already pairs
(:mod:`~stax_backend_linux.off_cpu.records`): the stack, ``prev`` switching out, ``next``
switching in.

``prev_state`` is 0 ("R") when the task was still runnable, or TASK_REPORT_MAX (a bit
above the state bits: "R+") when it was preempted; a sleeping task has a state bit in
the low byte (S, D, T, t, X, Z, P, I).  So the switch-out was involuntary exactly when
the low byte is 0, which is PERF_RECORD_MISC_SWITCH_OUT_PREEMPT's meaning.
"""

from __future__ import annotations

import attrs

from stax.events import IpTuple
from stax_backend_linux.off_cpu.records import SwitchRecord, SwitchStack
from stax_binfmt.tracefs import TraceField

NAME = "sched:sched_switch"
STATE_BITS = 0xFF
"""The task state bits of ``prev_state`` (sleeping, stopped, dead, idle); 0: still runnable."""


class SchedSwitchFormatError(ValueError):
    """The tracepoint's format lacks a field stax reads."""


@attrs.frozen(slots=True)
class SchedSwitchFormat:
    """Where ``prev_pid``, ``prev_state`` and ``next_pid`` sit in the raw record."""

    prev_pid: TraceField
    prev_state: TraceField
    next_pid: TraceField

    @classmethod
    def from_fields(cls, fields: dict[str, TraceField]) -> SchedSwitchFormat:
        missing = [name for name in ("prev_pid", "prev_state", "next_pid") if name not in fields]
        if missing:
            raise SchedSwitchFormatError(f"the {NAME} format has no field {', '.join(missing)}")
        return cls(fields["prev_pid"], fields["prev_state"], fields["next_pid"])

    def records(
        self,
        chunk: bytes,
        raw_at: int,
        end: int,
        when: int,
        pid: int,
        tid: int,
        cpu: int,
        kernel: IpTuple,
        user: IpTuple,
    ) -> tuple[SwitchStack, SwitchRecord, SwitchRecord] | tuple[()]:
        """The records of one sample whose PERF_SAMPLE_RAW starts at ``raw_at`` (its u32 size)."""
        data = raw_at + 4
        if raw_at + 4 > end:
            return ()
        size = int.from_bytes(chunk[raw_at:data], "little")
        limit = min(data + size, end)
        prev_tid = _read(chunk, data, limit, self.prev_pid)
        state = _read(chunk, data, limit, self.prev_state)
        next_tid = _read(chunk, data, limit, self.next_pid)
        if prev_tid is None or state is None or next_tid is None:
            return ()
        if prev_tid != tid:  # the sample's task is prev; trust the tracepoint's own field
            pid = tid = prev_tid
        preempted = not state & STATE_BITS
        return (
            SwitchStack(when, pid, tid, cpu, kernel, user),
            SwitchRecord(when, pid, tid, cpu, True, preempted),
            SwitchRecord(when, -1, next_tid, cpu, False, False),
        )


def _read(chunk: bytes, data: int, limit: int, field: TraceField) -> int | None:
    at = data + field.offset
    if at + field.size > limit:
        return None
    return int.from_bytes(chunk[at : at + field.size], "little", signed=field.signed)
