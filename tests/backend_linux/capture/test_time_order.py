"""TimeOrderer: round-based merge of per-CPU streams."""

from __future__ import annotations

from stax.events import ImageLoad, Sample, ThreadName
from stax_backend_linux.decode.time_order import TimeOrderer


def _s(t: int, cpu: int) -> Sample:
    return Sample(t, 1, 1, cpu, 1)


def test_round_holds_back_until_previous_round_max() -> None:
    order = TimeOrderer()
    # round 1: CPU 1's MMAP at t=15 is older than CPU 0's samples read first
    assert order.round([[_s(10, 0), _s(20, 0)], [ImageLoad(15, 1, 0, 1, 0, "/x")]]) == []
    # round 2: a late sample from CPU 1 at t=18 still sorts before t=20
    ready = order.round([[_s(30, 0)], [_s(18, 1), _s(25, 1)]])
    assert [e.time for e in ready] == [10, 15, 18, 20]
    ready = order.round([[], []])
    assert [e.time for e in ready] == [25, 30]
    assert order.flush() == []


def test_added_events_come_first_and_flush_sorts() -> None:
    order = TimeOrderer()
    order.add([ThreadName(1, 5, 5, "snap")])
    order.round([[_s(40, 0)], [_s(35, 1)]])
    assert len(order) == 3
    assert [e.time for e in order.flush()] == [1, 35, 40]
