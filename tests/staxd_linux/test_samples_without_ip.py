"""The decoders read staxd's off-CPU samples without PERF_SAMPLE_IP (grants without kernel stacks).

The layout is the shared ring's IDENTIFIER|TID|TIME|CPU|PERIOD|CALLCHAIN[|RAW]
(perf_event.h field order, no IP); the on-CPU sampler in the same ring keeps its IP.
The Python decoder and the compiled scan (fast_decode.c) must agree on it.
"""

from __future__ import annotations

import struct

import pytest

from stax.events import Sample
from stax_backend_linux.decode import fast_decoder
from stax_backend_linux.decode.record_decoder import (
    KIND_SAMPLING,
    KIND_SCHED_WAKING,
    KIND_SWITCH_STACK,
    RecordDecoder,
)
from stax_backend_linux.off_cpu.records import SwitchStack, WakingRecord
from tests.backend_linux import perf_record_bytes as pr

SAMPLER, SWITCHES, WAKING = 11, 22, 33
U1, U2 = 0x401000, 0x401100
PID_OFFSET = 24


def sample_without_ip(ident: int, pid: int, tid: int, time: int, cpu: int, chain: list[int],
                      raw: bytes | None = None) -> bytes:
    """A PERF_RECORD_SAMPLE of IDENTIFIER|TID|TIME|CPU|PERIOD|CALLCHAIN[|RAW]."""
    body = struct.pack("<QIIQIIQQ", ident, pid, tid, time, cpu, 0, 1, len(chain))
    body += struct.pack(f"<{len(chain)}Q", *chain)
    if raw is not None:
        blob = struct.pack("<I", len(raw)) + raw
        body += blob + b"\0" * (-len(blob) % 8)
    return struct.pack("<IHH", 9, 2, 8 + len(body)) + body


def _decoder() -> RecordDecoder:
    d = RecordDecoder(identifier=True)
    d.register(SWITCHES, KIND_SWITCH_STACK, sample_ip=False)
    d.register(WAKING, KIND_SCHED_WAKING, PID_OFFSET, sample_ip=False)
    return d


CHUNK = (pr.ident_sample(SAMPLER, U1, 5, 6, 100, 0, 1001001, [pr.CONTEXT_USER, U1, U2])
         + sample_without_ip(SWITCHES, 5, 6, 200, 1, [pr.CONTEXT_USER, U1, U2])
         + sample_without_ip(SWITCHES, 5, 6, 250, 1, [])
         + sample_without_ip(WAKING, 7, 8, 300, 0, [pr.CONTEXT_USER, U2], raw=pr.sched_waking_raw(6))
         + sample_without_ip(WAKING, 7, 8, 350, 1, [], raw=pr.sched_waking_raw(6))
         + pr.switch(5, 6, 400, 0, out=True, ident=SWITCHES))


def _check(events: list) -> None:
    on_cpu, stack, empty, waking, bare, switch = events
    assert on_cpu == Sample(100, 5, 6, 0, 1001001, (), (U1, U2), False)
    assert type(stack) is SwitchStack and (stack.time, stack.pid, stack.tid, stack.cpu) == (200, 5, 6, 1)
    assert (stack.kernel_ips, stack.user_ips) == ((), (U1, U2))
    assert (empty.time, empty.kernel_ips, empty.user_ips) == (250, (), ())
    assert type(waking) is WakingRecord
    assert (waking.time, waking.cpu, waking.waker_pid, waking.waker_tid) == (300, 0, 7, 8)
    assert waking.wakee_tid == 6
    assert (waking.kernel_ips, waking.user_ips) == ((), (U2,))
    assert (bare.time, bare.wakee_tid, bare.user_ips) == (350, 6, ())
    assert (switch.time, switch.out) == (400, True)


def test_python_decoder_reads_off_cpu_samples_without_ip() -> None:
    d = _decoder()
    _check(d.decode_python(CHUNK))
    assert (d.samples, d.switch_stacks, d.wakings, d.switch_records) == (1, 2, 2, 1)


@pytest.mark.skipif(fast_decoder.load() is None,
                    reason="no compiled decoder (no compiler, or STAX_PURE_PYTHON=1)")
def test_compiled_scan_reads_them_alike() -> None:
    d = _decoder()
    assert d.implementation == "compiled"
    _check(d.decode(CHUNK))
    assert (d.samples, d.switch_stacks, d.wakings, d.switch_records) == (1, 2, 2, 1)


def test_on_cpu_samples_keep_their_ip() -> None:
    with pytest.raises(ValueError, match="PERF_SAMPLE_IP"):
        RecordDecoder(identifier=True).register(SAMPLER, KIND_SAMPLING, sample_ip=False)
