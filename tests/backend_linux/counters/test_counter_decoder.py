"""Decoding counter-group reads and PERF_RECORD_READ records, with and without multiplexing scaling."""

from __future__ import annotations

import pytest

from stax_backend_linux.counters.decoder import combine, decode_read_record, parse_group_read, scaled
from stax_backend_linux.decode.record_decoder import TRAILER, RecordDecoder
from stax_binfmt.perf_counters import COUNTER_GROUP, COUNTER_READ_FORMAT
from stax_binfmt.perf_event_attr import L1D_READ_MISS
from tests.backend_linux.counters.read_records import group_read, read_record

KEYS = {11: "cycles", 12: "instructions", 13: "l1d-read-misses", 14: "branch-misses"}
VALUES = [(1_000_000, 11), (2_500_000, 12), (4_000, 13), (900, 14)]


def test_the_group_is_cycles_instructions_l1d_read_misses_branch_misses() -> None:
    assert [s.key for s in COUNTER_GROUP] == ["cycles", "instructions", "l1d-read-misses", "branch-misses"]
    assert COUNTER_READ_FORMAT == 0b1111  # GROUP | ID | TOTAL_TIME_ENABLED | TOTAL_TIME_RUNNING
    assert L1D_READ_MISS == 0x10000  # L1D | OP_READ << 8 | RESULT_MISS << 16
    assert (COUNTER_GROUP[2].type_, COUNTER_GROUP[2].config) == (3, 0x10000)  # PERF_TYPE_HW_CACHE


def test_group_read_without_multiplexing_is_taken_as_is() -> None:
    read, end = parse_group_read(group_read(5_000, 5_000, VALUES))
    assert end == 8 * (3 + 2 * 4)
    assert read.values == ((11, 1_000_000), (12, 2_500_000), (13, 4_000), (14, 900))
    assert not read.multiplexed
    assert combine([read], KEYS) == {"cycles": 1_000_000, "instructions": 2_500_000, "l1d-read-misses": 4_000,
                                     "branch-misses": 900}


def test_multiplexed_group_is_scaled_by_enabled_over_running() -> None:
    read, _ = parse_group_read(group_read(8_000, 2_000, VALUES))  # on the PMU a quarter of the time
    assert read.multiplexed
    assert combine([read], KEYS) == {"cycles": 4_000_000, "instructions": 10_000_000,
                                     "l1d-read-misses": 16_000, "branch-misses": 3_600}
    assert read.scaled_by_id()[11] == 4_000_000
    assert scaled(7, 3, 0) == 0  # never ran: nothing to scale
    assert scaled(10, 3, 2) == 15


def test_per_cpu_reads_of_one_thread_are_summed_before_scaling() -> None:
    """Each per-CPU group reports the thread's whole enabled time but runs only on its CPU:
    9 ms on CPU 0 and 1 ms on CPU 1 of 10 ms enabled is not multiplexing."""
    cpu0, _ = parse_group_read(group_read(10_000_000, 9_000_000, [(900, 11), (1_800, 12)]))
    cpu1, _ = parse_group_read(group_read(10_000_000, 1_000_000, [(100, 21), (200, 22)]))
    keys = {11: "cycles", 12: "instructions", 21: "cycles", 22: "instructions"}
    assert combine([cpu0, cpu1], keys) == {"cycles": 1_000, "instructions": 2_000}
    # ... and when both CPUs' groups were multiplexed to half, the sum is doubled once
    cpu0, _ = parse_group_read(group_read(10_000_000, 4_500_000, [(450, 11)]))
    cpu1, _ = parse_group_read(group_read(10_000_000, 500_000, [(50, 21)]))
    assert combine([cpu0, cpu1], keys) == {"cycles": 1_000}


def test_short_group_read_is_an_error() -> None:
    with pytest.raises(ValueError, match="group read of 4 counters"):
        parse_group_read(group_read(1, 1, VALUES)[:-8])


@pytest.mark.parametrize("identifier", [None, 0xABC])
def test_read_record(identifier: int | None) -> None:
    chunk = read_record(300, 302, 123_456, 1, 7_000, 3_500, VALUES, identifier=identifier)
    trailer = TRAILER + (8 if identifier is not None else 0)
    read = decode_read_record(chunk, 0, len(chunk), trailer)
    assert read is not None
    assert (read.time, read.pid, read.tid, read.cpu) == (123_456, 300, 302, 1)
    assert read.read.multiplexed
    assert combine([read.read], KEYS)["cycles"] == 2_000_000
    assert decode_read_record(chunk[:40], 0, 40, trailer) is None  # cut short: not a record


@pytest.mark.parametrize("identifier", [False, True])
def test_record_decoder_hands_read_records_to_the_counters(identifier: bool) -> None:
    decoder = RecordDecoder(identifier=identifier)
    decoder.counter_reads = []
    ident = 77 if identifier else None
    chunk = (read_record(300, 301, 10, 0, 100, 100, VALUES, ident)
             + read_record(300, 302, 20, 1, 100, 50, VALUES[:1], ident))
    assert decoder.decode(chunk) == []  # private to the backend: not events
    got = [(r.tid, r.time, len(r.read.values)) for r in decoder.counter_reads]
    assert got == [(301, 10, 4), (302, 20, 1)]
    assert decoder.unknown_records == 0
    plain = RecordDecoder(identifier=identifier)  # no counters asked for: counted as unknown
    plain.decode(chunk)
    assert plain.unknown_records == 2
