"""What a recording's sample weights count: CPU time for the clock events, events otherwise.

``stax record -e page-faults`` (or any event that is not ``cpu-clock`` / ``task-clock``)
stores in each sample's weight the events it stands for, not nanoseconds
(``backend.event`` in the recording's meta, :data:`stax.recording.meta_keys.BACKEND_EVENT`).
Every view and export names the weight from here, so none calls page faults "CPU time".
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from stax.recording import meta_keys as mk

CLOCK_EVENTS = frozenset({"cpu-clock", "task-clock"})
"""Events whose sample weight is CPU time in ns."""
DEFAULT_EVENT = "cpu-clock"


@attrs.frozen(slots=True)
class SampleWeight:
    """The sampling event of a recording and what its weights are."""

    event: str = DEFAULT_EVENT

    @property
    def is_time(self) -> bool:
        """True when a weight is CPU time in ns (a clock event)."""
        return self.event in CLOCK_EVENTS

    @property
    def kind(self) -> str:
        """A short name for the weight: ``cpu`` (pprof's sample type for CPU time) or the event."""
        return "cpu" if self.is_time else self.event

    @property
    def unit(self) -> str:
        """``nanoseconds`` or ``count`` (pprof's and speedscope's spellings)."""
        return "nanoseconds" if self.is_time else "count"

    @property
    def label(self) -> str:
        """For sentences and column titles: ``CPU time`` or ``page-faults events``."""
        return "CPU time" if self.is_time else f"{self.event} events"


def sample_weight(meta: Mapping[str, object]) -> SampleWeight:
    """The :class:`SampleWeight` of a recording's meta (``cpu-clock`` when it names no event)."""
    event = meta.get(mk.BACKEND_EVENT.key)
    return SampleWeight(event if isinstance(event, str) and event else DEFAULT_EVENT)
