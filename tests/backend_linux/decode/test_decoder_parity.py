"""The compiled record scan (fast_decode.c) against the Python decoder, its reference.

Both must produce the same events, in the same order, with the same counts, on
synthesized chunks covering every record kind and callchain shape, and on the
chunks of a real off-CPU capture.  ``STAX_PURE_PYTHON=1`` turns the compiled scan off.
"""

from __future__ import annotations

import random
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from stax.contracts import CaptureSummary, RecordRequest
from stax_backend_linux.capture.ring_drainer import RingDrainer
from stax_backend_linux.decode import fast_decoder
from stax_backend_linux.decode.record_decoder import (
    KIND_SAMPLING,
    KIND_SCHED_WAKING,
    KIND_SWITCH_STACK,
    RecordDecoder,
)
from stax_backend_linux.decode.user_dump import UserDumpLayout
from stax_backend_linux.plugin import LinuxBackend
from tests.backend_linux import perf_record_bytes as rb
from tests.backend_linux.conftest import ListSink, needs_root

PINGPONG_C = Path(__file__).resolve().parents[1] / "off_cpu" / "workloads" / "capture_pingpong.c"
COUNTS = ("samples", "switch_records", "switch_stacks", "wakings", "lost_records", "lost_samples",
          "throttled", "off_cpu_throttled", "unknown_records")
SAMPLING, SWITCHES, WAKING = 11, 12, 13

compiled = pytest.mark.skipif(fast_decoder.load() is None,
                              reason="no compiled decoder (no compiler, or STAX_PURE_PYTHON=1)")


def _fields(event: object) -> tuple[object, ...]:
    slots = getattr(type(event), "__slots__", ())
    return (type(event).__name__, *(getattr(event, name) for name in slots if not name.startswith("__")))


def _decoders(identifier: bool, kinds: dict[int, int], waking_at: int = 24, max_stack: int = 127,
              dump: UserDumpLayout | None = None) -> tuple[RecordDecoder, RecordDecoder]:
    pair = []
    for _ in range(2):
        d = RecordDecoder(lambda path: b"\x01" * 20, max_stack, identifier=identifier)
        d.dump = dump
        for ident, kind in kinds.items():
            d.register(ident, kind, waking_at if kind == KIND_SCHED_WAKING else -1)
        pair.append(d)
    return pair[0], pair[1]


def _assert_same(fast: RecordDecoder, python: RecordDecoder, chunks: list[bytes]) -> int:
    assert fast.implementation == "compiled" and fast._fast is not None
    total = 0
    for chunk in chunks:
        got = [_fields(e) for e in fast._fast.decode(fast, chunk)]
        want = [_fields(e) for e in python.decode_python(chunk)]
        assert got == want
        total += len(want)
    assert [getattr(fast, c) for c in COUNTS] == [getattr(python, c) for c in COUNTS]
    return total


def _chains(rng: random.Random) -> list[list[int]]:
    k = [0xFFFFFFFF81000000 + rng.randrange(1 << 20) for _ in range(rng.randrange(1, 6))]
    u = [0x400000 + rng.randrange(1 << 20) for _ in range(rng.randrange(1, 9))]
    return [
        [],
        [rb.CONTEXT_USER, *u],
        [rb.CONTEXT_USER],
        [rb.CONTEXT_KERNEL, *k],
        [rb.CONTEXT_KERNEL, *k, rb.CONTEXT_USER, *u],
        [rb.CONTEXT_KERNEL, rb.CONTEXT_USER],
        [rb.CONTEXT_GUEST, *k, rb.CONTEXT_USER, *u],  # the general splitter
        [*u],  # no marker at all
        [rb.CONTEXT_USER, *range(0x1000, 0x1000 + 127)],  # as long as max_stack: truncated
    ]


def _plain_chunk(rng: random.Random) -> bytes:
    """Records of a single-event ring (no identifiers), every kind the decoder knows."""
    parts = []
    for i in range(300):
        when = 1_000_000 + i * 1000
        chain = rng.choice(_chains(rng))
        choice = rng.randrange(10)
        if choice < 6:
            ip = rng.choice([0x401000, 2**64 - 100])  # an address, or a marker-like ip
            parts.append(rb.sample(ip, 7, 8, when, 1, 1_001_001, chain))
        elif choice == 6:
            parts.append(rb.mmap2(7, 7, 0x400000, 0x1000, 0, rng.choice(["/bin/x", "//anon", "[vdso]"]),
                                  when, 0, build_id=rng.choice([None, b"\xab" * 20])))
        elif choice == 7:
            parts.append(rb.comm(7, 8, "worker", when, 0, exec_=bool(i & 1)))
        elif choice == 8:
            parts.append(rng.choice([rb.fork(7, 1, 9, 8, when, 0), rb.exit_(7, 1, 9, 8, when, 0),
                                     rb.lost(3, when, 0), rb.lost_samples(2, when, 0),
                                     rb.throttle(when, 0), rb.throttle(when, 0, unthrottle=True)]))
        else:
            parts.append(rb.mmap(7, 7, 0x500000, 0x2000, 0x1000, "/lib/y.so", when, 0))
    return b"".join(parts)


def _shared_chunk(rng: random.Random) -> bytes:
    """An off-CPU ring: sampler, context-switch and sched_waking events with identifiers."""
    parts = []
    for i in range(400):
        when = 5_000_000 + i * 997
        chain = rng.choice(_chains(rng))
        choice = rng.randrange(8)
        if choice == 0:
            parts.append(rb.ident_sample(SAMPLING, 0x401000, 7, 8, when, 1, 1_001_001, chain))
        elif choice == 1:
            parts.append(rb.ident_sample(SWITCHES, 0xFFFFFFFF81000010, 7, 8, when, 1, 1, chain))
        elif choice == 2:
            raw = rb.sched_waking_raw(rng.choice([9, -5]), common_pid=8)
            raw = rng.choice([raw, raw[:20], b""])  # whole, too short for the pid, empty
            parts.append(rb.ident_sample(WAKING, 0xFFFFFFFF81000020, 7, 8, when, 1, 1, chain, raw=raw))
        elif choice == 3:
            parts.append(rb.ident_sample(99, 0x401000, 7, 8, when, 1, 1, chain))  # unregistered id
        elif choice in (4, 5):
            parts.append(rb.switch(7, 8, when, 1, out=bool(i & 1), preempt=bool(i & 2), ident=SWITCHES,
                                   cpu_wide_next=rng.choice([None, (5, 6)])))
        elif choice == 6:
            parts.append(rb.ident_comm(7, 8, "w", when, 1, ident=SAMPLING))
        else:
            parts.append(rb._record(rb.THROTTLE, 0, struct.pack("<QQQ", when, SWITCHES, SWITCHES)
                                    + rb._sample_id_ident(0, 0, when, 1, SWITCHES)))
    return b"".join(parts)


@compiled
def test_plain_ring_records_decode_alike() -> None:
    rng = random.Random(1)
    fast, python = _decoders(False, {})
    chunks = [_plain_chunk(rng) for _ in range(5)]
    assert _assert_same(fast, python, chunks) > 1000


@compiled
def test_shared_ring_records_decode_alike() -> None:
    rng = random.Random(2)
    kinds = {SAMPLING: KIND_SAMPLING, SWITCHES: KIND_SWITCH_STACK, WAKING: KIND_SCHED_WAKING}
    fast, python = _decoders(True, kinds)
    chunks = [_shared_chunk(rng) for _ in range(5)]
    assert _assert_same(fast, python, chunks) > 1500
    assert fast.switch_records and fast.switch_stacks and fast.wakings and fast.off_cpu_throttled


@compiled
def test_batches_longer_than_one_call_and_ragged_or_corrupt_tails() -> None:
    rng = random.Random(3)
    fast, python = _decoders(True, {SWITCHES: KIND_SWITCH_STACK})
    many = b"".join(rb.switch(7, 8, t, 0, out=bool(t & 1), ident=SWITCHES)
                    for t in range(fast_decoder.BATCH * 2 + 5))
    body = _shared_chunk(rng)
    corrupt = body[:64] + struct.pack("<IHH", 9, 0, 4) + body[64:]  # size < 8: stop there
    overrun = body + struct.pack("<IHH", 14, 0, 4096) + b"\0" * 56  # runs past the chunk
    odd = body[:-3]  # a ragged tail
    _assert_same(fast, python, [many, corrupt, overrun, odd, b"", b"\0" * 8])


def test_pure_python_env_turns_the_compiled_scan_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fast_decoder.PURE_PYTHON_ENV, "1")
    assert RecordDecoder().implementation == "python"
    monkeypatch.setenv(fast_decoder.PURE_PYTHON_ENV, "0")
    assert RecordDecoder().implementation == ("compiled" if fast_decoder.load() else "python")


@pytest.fixture(scope="module")
def pingpong() -> Path:
    out = Path(tempfile.mkdtemp(prefix="stax-parity-"))
    exe = out / "capture_pingpong"
    subprocess.run(["gcc", "-O1", "-fno-omit-frame-pointer", "-pthread", "-o", str(exe), str(PINGPONG_C)],
                   check=True)
    return exe


def record_pingpong(pingpong: Path, monkeypatch: pytest.MonkeyPatch, sink: ListSink,
                    call_graph: str = "fp") -> tuple[CaptureSummary, list[list[bytes]], RecordDecoder]:
    """Record the ping-pong off the CPU: (summary, each round's drained chunks, the capture's decoder)."""
    seen: list[list[bytes]] = []
    take = RingDrainer.take

    def spy(self: RingDrainer, *args: int) -> list[bytes]:  # the chunks, as the capture stream reads them
        chunks = take(self, *args)
        seen.append([bytes(c) for c in chunks])
        return chunks

    decoders: list[RecordDecoder] = []
    init = RecordDecoder.__init__

    def keep(self: RecordDecoder, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)  # type: ignore[arg-type]
        decoders.append(self)

    monkeypatch.setattr(RingDrainer, "take", spy)
    monkeypatch.setattr(RecordDecoder, "__init__", keep)
    summary = LinuxBackend().record(RecordRequest(command=(str(pingpong), "3000", "2000"), off_cpu=True,
                                                  call_graph=call_graph),
                                    sink, lambda progress: None, lambda: False)
    (used,) = decoders
    return summary, seen, used


@compiled
@needs_root
def test_real_off_cpu_ring_chunks_decode_alike(pingpong: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary, rounds, used = record_pingpong(pingpong, monkeypatch, ListSink())
    seen = [chunk for per_ring in rounds for chunk in per_ring if chunk]
    assert summary.metadata["decoder"] == "compiled"
    assert sum(len(chunk) for chunk in seen) > 100_000
    assert used.dump is not None  # the default hybrid dump, on samples and switch-outs
    total = 0
    for chunk in seen:
        fast, python = _decoders(used.identifier, dict(used.kinds), used.waking_pid_offset, used.max_stack,
                                 used.dump)
        total += _assert_same(fast, python, [chunk])
    assert total > 3000
