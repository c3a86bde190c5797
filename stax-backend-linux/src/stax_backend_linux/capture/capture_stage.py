"""The optional parts of a capture, as stages of the stream between time ordering and the sink.

:class:`~stax_backend_linux.capture.capture_session.CaptureSession` keeps its optional parts —
off-CPU (off_cpu_stage.py), hardware counters (counter_stage.py), the DWARF call graph
(dwarf_stage.py) — in one list, in stream order, and calls each hook on every stage:

1. ``open(session, events)`` once the sampler is open: open this stage's events into
   the sampler's rings and wire the decoder (before the rings are mapped);
2. ``start()`` once the rings are mapped: enable what was opened disabled;
3. every drain round: ``before_order(per_ring)`` with each ring's decoded records, then
   ``feed(events)`` with the time-ordered batch, returning the batch for the next stage;
4. ``end(batches, end_time)`` when capture has stopped: the last batches through
   ``feed``, then what the stage still holds (spans still open, samples held back for
   unwinding, the counters' final reads), lazily so a long replay streams to the sink;
5. ``metadata()`` and ``notes()`` for the summary: keys of the recording's meta table
   (stax.recording.meta_keys, stored under ``backend.``) and sentences for the user;
6. ``close()`` always, whether capture succeeded or not.

A stage overrides only the hooks it takes part in; the rest are no-ops here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from stax.events import Event

if TYPE_CHECKING:
    from stax_backend_linux.capture.capture_session import CaptureSession
    from stax_backend_linux.capture.targets import PerCpuEvents


class CaptureStage:
    """One optional part of a capture (see the module doc for the order of the hooks)."""

    name = ""

    def open(self, session: CaptureSession, events: PerCpuEvents) -> None:
        """Open this stage's events into the sampler's rings (``events``); wire the decoder."""

    def start(self) -> None:
        """The rings are mapped: start what was opened disabled."""

    def before_order(self, per_ring: Sequence[Sequence[object]]) -> None:
        """See one drain round's decoded records per ring, before time ordering."""

    def feed(self, events: list) -> list:
        """Take one time-ordered batch and return what goes on to the next stage."""
        return events

    def leftovers(self, end_time: int) -> Iterable[list[Event]]:
        """What the stage still holds when capture has stopped, in batches."""
        return ()

    def end(self, batches: Iterable[list], end_time: int) -> Iterator[list]:
        """The last batches through :meth:`feed`, then :meth:`leftovers`."""
        for batch in batches:
            yield self.feed(batch)
        yield from self.leftovers(end_time)

    def metadata(self) -> dict[str, object]:
        """``BackendKey.field`` -> value for the recording's meta table."""
        return {}

    def notes(self) -> list[str]:
        """Sentences for the user about what this stage could not record, and why."""
        return []

    def close(self) -> None:
        """Release what the stage holds (files, fds not handed over)."""
