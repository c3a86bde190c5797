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

from array import array

import attrs

from stax.event_columns import EventColumns
from stax.events import Sample
from stax_backend_linux.capture.capture_stage import CaptureStage
from stax_backend_linux.dwarf_callgraph.stack_sample import StackSample
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

    def _keep(self, cpu: int, weight: int) -> int:
        """The weight to keep this sample with, or 0 to drop it (its events go to the next one)."""
        total = self.pending.get(cpu, 0) + weight
        if total < self.period:
            self.pending[cpu] = total
            return 0
        self.pending[cpu] = 0
        return total

    def feed(self, events: list) -> list:
        out = []
        for event in events:
            if type(event) is Sample:
                weight = self._keep(event.cpu, event.weight)
                if not weight:
                    continue
                event = attrs.evolve(event, weight=weight)
            elif type(event) is StackSample:  # (to be unwound after capture: --call-graph fp, dwarf)
                weight = self._keep(event.cpu, event.weight)
                if not weight:
                    continue
                event.weight = weight
            elif type(event) is EventColumns:
                self._thin_columns(event)
            out.append(event)
        return out

    def _thin_columns(self, run: EventColumns) -> None:
        """The same for a run of samples in columns (the compiled stream's): rows kept in order."""
        names = ("sample_time", "sample_pid", "sample_tid", "sample_cpu", "sample_weight", "sample_stack")
        columns = [getattr(run, name) for name in names]
        kept: list[array] = [array("q") for _ in names]
        for row in zip(*columns, strict=True):
            weight = self._keep(row[3], row[4])
            if weight:
                for column, value in zip(kept, (*row[:4], weight, row[5]), strict=True):
                    column.append(value)
        for name, column in zip(names, kept, strict=True):
            setattr(run, name, column)
