"""The hardware-counter stage of a capture (``--counters``): per-thread counter totals.

Opens the counter groups per (thread, CPU), in-process or through staxd
(event_opener.open_counter_groups), with their members writing into each CPU's
sampler ring; follows thread creation in the ordered stream so an exiting thread's
READ record is credited to the right group (counter_capture.py); and when capture
stops, reads every group once and emits one :class:`~stax.events.CounterValues` per
thread.  No PMU (or -a) is a note, not a failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from stax.events import Event
from stax.recording import meta_keys as mk
from stax_backend_linux.capture.capture_stage import CaptureStage
from stax_backend_linux.capture.event_opener import open_counter_groups
from stax_backend_linux.capture.targets import target_threads
from stax_backend_linux.counters.capture import CounterCapture

if TYPE_CHECKING:
    from stax_backend_linux.capture.capture_session import CaptureSession
    from stax_backend_linux.capture.targets import PerCpuEvents


class CounterStage(CaptureStage):
    """``request.counters``: cycles, instructions, L1-D read misses and branch misses per thread."""

    name = "counters"

    def __init__(self) -> None:
        self.capture: CounterCapture | None = None
        """None when no group could be opened (the note says why)."""

    def open(self, session: CaptureSession, events: PerCpuEvents) -> None:
        req = session.request
        if session.command is not None:
            threads = [(session.command.pid, session.command.pid)]
        else:
            threads = target_threads(req.pids, req.threads)
        groups, note = open_counter_groups(session.opener, session.staxd_target(), session.facts,
                                           threads=threads, identifier=req.off_cpu, kernel=req.kernel_stacks)
        if note:
            session.notes.append(note)
        if groups:
            self.capture = CounterCapture(groups)
            self.capture.hand_over(events)
            session.decoder.counter_reads = self.capture.reads

    def feed(self, events: list) -> list:
        if self.capture is not None:
            self.capture.observe(events)  # thread creation: whose group an exiting thread reports to
        return events

    def leftovers(self, end_time: int) -> Iterable[list[Event]]:
        if self.capture is not None:
            yield list(self.capture.finish(end_time))  # final read() of every group

    def metadata(self) -> dict[str, object]:
        return {mk.BACKEND_COUNTERS.field: self.capture is not None,
                mk.BACKEND_COUNTER_READS.field: len(self.capture.reads) if self.capture is not None else 0}
