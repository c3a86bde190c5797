"""``-c N`` of a software event or tracepoint: one sample kept for every N events.

The kernel writes a sample for *every* software or tracepoint event whose samples carry
their period (PERF_SAMPLE_PERIOD) and that is not frequency-driven
(kernel/events/core.c, perf_swevent_event: ``data->period = nr`` and overflow at once),
whatever ``sample_period`` says.  stax's sample layout always carries the period, so for
those events the sampler is opened with period 1 and this stage, first in the stream,
keeps one sample in N per CPU, weighted with the N events it stands for: the sample count
is what ``perf record -c N`` gives and the summed weight stays the exact event count.
Clocks and PMU counters overflow by their own period and never come here.
"""

from __future__ import annotations

import attrs

from stax.events import Sample
from stax_backend_linux.capture.capture_stage import CaptureStage
from stax_binfmt.perf_event_names import EventChoice


def kept_in_user_space(event: EventChoice, period: int | None) -> bool:
    """Whether ``-c period`` of ``event`` must be applied here rather than by the kernel."""
    return period is not None and period > 1 and not event.is_time and not event.needs_pmu


class CountSamplingStage(CaptureStage):
    """Keeps one sample in ``period`` per CPU (see the module doc)."""

    name = "count_sampling"

    def __init__(self, period: int) -> None:
        self.period = period
        self.pending: dict[int, int] = {}
        """CPU -> events counted since the last sample kept there."""

    def feed(self, events: list) -> list:
        out = []
        for event in events:
            if type(event) is Sample:
                weight = self.pending.get(event.cpu, 0) + event.weight
                if weight < self.period:
                    self.pending[event.cpu] = weight
                    continue
                self.pending[event.cpu] = 0
                event = attrs.evolve(event, weight=weight)
            out.append(event)
        return out
