"""The weight of one on-CPU sample in a trace someone else recorded: the kperf timer period.

A live capture knows the period it asked for.  A ktrace file says it in PERF_TM_FIRE
(arg3: the timer's period in mach ticks, traced each time the timer fires,
osfmk/kperf/kptimer.c ``kptimer_fire``).  When that event was filtered out, the
period is the median gap between consecutive timer samples on one CPU (a timer
sample fires once per period per CPU; samples at context switches are not counted).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from stax_backend_macos.kd_buf import KdRecord
from stax_backend_macos.kdebug_codes import (
    DBG_FUNC_START,
    PERF_GEN_EVENT,
    PERF_TM_FIRE,
    SAMPLE_FLAG_NON_INTERRUPT,
)
from stax_backend_macos.kdebug_decoder import Timebase

DEFAULT_PERIOD_NS = 1_000_000
"""1 ms: kperf's PET minimum, used when a trace has fewer than two timer samples on any CPU."""


def find_period(records: Iterable[KdRecord], timebase: Timebase) -> tuple[int, str]:
    """(period in ns, how it was found: a phrase for the recording's notes)."""
    last: dict[int, int] = {}
    gaps: list[int] = []
    for record in records:
        event_id = record.debugid & ~3
        if event_id == PERF_TM_FIRE and record.arg3:
            return timebase.ns(record.arg3), "the kperf timer period in the trace"
        if (event_id == PERF_GEN_EVENT and record.debugid & DBG_FUNC_START
                and not record.arg4 & SAMPLE_FLAG_NON_INTERRUPT and record.arg4):
            before = last.get(record.cpu)
            if before is not None and record.timestamp > before:
                gaps.append(record.timestamp - before)
            last[record.cpu] = record.timestamp
    if gaps:
        return timebase.ns(int(statistics.median_low(gaps))), "the median gap between timer samples"
    return DEFAULT_PERIOD_NS, "a default of 1 ms (the trace has no timer period)"
