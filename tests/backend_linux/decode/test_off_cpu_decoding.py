"""record_decoder with PERF_SAMPLE_IDENTIFIER: switch records, switch-out stacks, sched_waking samples.

Layouts from perf_event.h (PERF_SAMPLE_IDENTIFIER, PERF_RECORD_SWITCH(_CPU_WIDE),
PERF_SAMPLE_RAW) and tracefs events/sched/sched_waking/format.
"""

from __future__ import annotations

import struct

import pytest

from stax.events import LostNotice, Sample, ThreadName
from stax_backend_linux.decode.record_decoder import KIND_SCHED_WAKING, KIND_SWITCH_STACK, RecordDecoder
from stax_backend_linux.off_cpu.records import SwitchRecord, SwitchStack, WakingRecord
from tests.backend_linux import perf_record_bytes as pr

SAMPLER, SWITCHES, WAKING = 11, 22, 33
K1, K2 = 0xFFFFFFFF81000010, 0xFFFFFFFF81000020
U1, U2 = 0x401000, 0x401100
PID_OFFSET = 24


def decoder() -> RecordDecoder:
    d = RecordDecoder(identifier=True)
    d.register(SWITCHES, KIND_SWITCH_STACK)
    d.register(WAKING, KIND_SCHED_WAKING, PID_OFFSET)
    return d


def test_samples_are_told_apart_by_identifier() -> None:
    chain = [pr.CONTEXT_KERNEL, K1, K2, pr.CONTEXT_USER, U1, U2]
    d = decoder()
    on_cpu, stack, waking = d.decode(
        pr.ident_sample(SAMPLER, U1, 5, 6, 100, 0, 1001001, [pr.CONTEXT_USER, U1, U2])
        + pr.ident_sample(SWITCHES, K1, 5, 6, 200, 1, 1, chain)
        + pr.ident_sample(WAKING, K1, 7, 8, 300, 0, 1, chain, raw=pr.sched_waking_raw(6)))
    assert on_cpu == Sample(100, 5, 6, 0, 1001001, (), (U1, U2), False)
    assert type(stack) is SwitchStack
    assert (stack.time, stack.pid, stack.tid, stack.cpu) == (200, 5, 6, 1)
    assert (stack.kernel_ips, stack.user_ips) == ((K1, K2), (U1, U2))
    assert type(waking) is WakingRecord
    assert (waking.time, waking.cpu, waking.waker_pid, waking.waker_tid) == (300, 0, 7, 8)
    assert waking.wakee_tid == 6
    assert waking.kernel_ips == (K1, K2) and waking.user_ips == (U1, U2)
    assert (d.samples, d.switch_stacks, d.wakings) == (1, 1, 1)


def test_switch_records_out_preempt_in_and_cpu_wide() -> None:
    d = decoder()
    out, preempted, back, wide = d.decode(
        pr.switch(5, 6, 100, 0, out=True, ident=SWITCHES)
        + pr.switch(5, 6, 150, 0, out=True, preempt=True, ident=SWITCHES)
        + pr.switch(5, 6, 200, 1, out=False, ident=SWITCHES)
        + pr.switch(9, 9, 250, 1, out=True, ident=SWITCHES, cpu_wide_next=(0, 0)))
    assert [(r.time, r.tid, r.cpu, r.out, r.preempted) for r in (out, preempted, back, wide)] == [
        (100, 6, 0, True, False), (150, 6, 0, True, True), (200, 6, 1, False, False),
        (250, 9, 1, True, False)]
    assert all(type(r) is SwitchRecord for r in (out, preempted, back, wide))
    assert d.switch_records == 4


def test_side_band_trailers_are_read_past_the_identifier() -> None:
    (name,) = decoder().decode(pr.ident_comm(5, 6, "worker", 123, 1, ident=SAMPLER))
    assert name == ThreadName(123, 5, 6, "worker", False)


def test_empty_chain_of_a_switch_stack_is_not_a_user_frame() -> None:
    (stack,) = decoder().decode(pr.ident_sample(SWITCHES, K1, 5, 6, 200, 1, 1, []))
    assert stack.kernel_ips == () and stack.user_ips == ()


def test_waking_raw_too_short_gives_no_wakee() -> None:
    (waking,) = decoder().decode(pr.ident_sample(WAKING, K1, 7, 8, 300, 0, 1, [], raw=b"\0" * 12))
    assert waking.wakee_tid == -1


def _throttle(event_id: int) -> bytes:
    trailer = pr._sample_id_ident(0, 0, 10, 0, event_id)
    body = struct.pack("<QQQ", 10, event_id, event_id) + trailer  # time, id, stream_id
    return struct.pack("<IHH", 5, 0, 8 + len(body)) + body  # PERF_RECORD_THROTTLE


def test_throttle_of_an_off_cpu_event_is_not_a_sampling_throttle() -> None:
    d = decoder()
    assert d.decode(_throttle(SWITCHES)) == []
    assert (d.throttled, d.off_cpu_throttled) == (0, 1)
    (notice,) = d.decode(_throttle(SAMPLER))
    assert type(notice) is LostNotice and d.throttled == 1


def test_register_needs_identifier_layout() -> None:
    with pytest.raises(ValueError):
        RecordDecoder().register(1, KIND_SWITCH_STACK)
