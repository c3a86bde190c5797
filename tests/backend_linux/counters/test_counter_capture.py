"""Per-thread totals from READ records and the final group reads (synthesized, no kernel needed)."""

from __future__ import annotations

import pytest

from stax.events import ThreadStart
from stax_backend_linux.counters import capture as counter_capture
from stax_backend_linux.counters.capture import CounterCapture
from stax_backend_linux.counters.decoder import CounterRead, parse_group_read
from stax_backend_linux.counters.group import CounterGroup
from tests.backend_linux.counters.read_records import group_read

PID = 100
KEYS = ["cycles", "instructions"]
# the command's main thread 100, one group per CPU: fds 50/51 (CPU 0) and 60/61 (CPU 1)
GROUPS = [CounterGroup(PID, PID, 0, [50, 51], [1, 2], KEYS),
          CounterGroup(PID, PID, 1, [60, 61], [3, 4], KEYS)]


def _read(tid: int, cpu_ids: tuple[int, int], enabled: int, running: int, cycles: int, instructions: int,
          time: int = 5) -> CounterRead:
    pairs = [(cycles, cpu_ids[0]), (instructions, cpu_ids[1])]
    read, _ = parse_group_read(group_read(enabled, running, pairs))
    return CounterRead(time, PID, tid, 0, read)


def _capture(monkeypatch: pytest.MonkeyPatch, finals: dict[int, bytes]) -> CounterCapture:
    monkeypatch.setattr(counter_capture, "read_group", lambda fd, members: finals[fd])
    return CounterCapture(GROUPS)


def test_exited_threads_report_themselves_and_the_main_thread_gets_the_rest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    capture = _capture(monkeypatch, {
        50: group_read(1000, 1000, [(10_000, 1), (20_000, 2)]),  # the whole tree, CPU 0
        60: group_read(1000, 0, [(0, 3), (0, 4)]),
    })
    capture.observe([ThreadStart(1, PID, 101, PID, PID), ThreadStart(2, PID, 102, 101, 101)])
    # thread 101 ran on CPU 0 only; its CPU-1 group reports running 0.  Later members'
    # READs repeat the group with fewer values: only the fullest counts.
    capture.reads += [_read(101, (1, 2), 400, 400, 3_000, 9_000), _read(101, (1, 2), 400, 400, 3_000, 9_000),
                      _read(101, (3, 4), 400, 0, 0, 0)]
    capture.reads.append(CounterRead(6, PID, 102, 0, parse_group_read(group_read(100, 100, [(1_000, 1)]))[0]))
    values = {cv.tid: cv.values for cv in capture.finish(end_time=99)}
    assert values == {PID: {"cycles": 6_000, "instructions": 11_000},
                      101: {"cycles": 3_000, "instructions": 9_000},
                      102: {"cycles": 1_000}}
    times = {cv.tid: cv.time for cv in capture.finish(end_time=99)}
    assert times == {PID: 99, 101: 5, 102: 6}


def test_the_one_thread_without_a_read_record_gets_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a context swap the opened thread itself exits as a clone (it writes a READ) and the
    thread holding the original counters writes none: the remainder is that thread's."""
    capture = _capture(monkeypatch, {50: group_read(1000, 1000, [(9_000, 1), (9_000, 2)]),
                                     60: group_read(1000, 0, [(0, 3), (0, 4)])})
    capture.observe([ThreadStart(1, PID, 101, PID, PID), ThreadStart(1, PID, 102, PID, PID)])
    capture.reads += [_read(PID, (1, 2), 300, 300, 2_000, 2_000), _read(101, (1, 2), 300, 300, 3_000, 3_000)]
    values = {cv.tid: cv.values for cv in capture.finish(end_time=99)}
    assert values[102] == {"cycles": 4_000, "instructions": 4_000}
    assert values[PID] == {"cycles": 2_000, "instructions": 2_000}


def test_multiplexed_reads_are_scaled_per_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    capture = _capture(monkeypatch, {50: group_read(1000, 250, [(1_000, 1), (2_000, 2)]),
                                     60: group_read(1000, 250, [(1_000, 3), (2_000, 4)])})
    (only,) = capture.finish(end_time=7)
    assert (only.tid, only.values) == (PID, {"cycles": 4_000, "instructions": 8_000})  # x 1000 / 500


def test_reads_of_unknown_groups_are_counted_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    capture = _capture(monkeypatch, {50: group_read(10, 10, [(5, 1), (5, 2)]), 60: group_read(10, 0, [])})
    capture.reads.append(_read(101, (98, 99), 10, 10, 1, 1))
    assert [cv.tid for cv in capture.finish(end_time=1)] == [PID]
    assert capture.unmatched_reads == 1
