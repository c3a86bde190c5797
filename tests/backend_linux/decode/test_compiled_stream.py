"""The compiled capture stream (fast_stream.c) against the Python path, its reference.

Fed the same rounds of ring bytes, the compiled stream (scan, time order, off-CPU spans,
wakeups, raw stacks) and the Python path (RecordDecoder.decode_python, TimeOrderer,
OffCpuStream with SwitchTracker and WakeupAttribution) must produce the same samples,
spans, wakeups and other events, in the same order per kind, with the same counts: on
synthesized rounds over two rings covering every record kind, exits, forks, preemption,
targets and the kernel-ips switch, and on the rounds of a real ping-pong capture.

With the default hybrid ``--call-graph fp`` the samples and switch-outs carry user registers
and a stack copy: after the unwinding stage (DwarfSampleStream in the stream) the two paths
must give the same repaired samples and spans and the same unwinding counts.
"""

from __future__ import annotations

import os
import random
import struct
from collections.abc import Sequence
from pathlib import Path

import pytest

from stax.event_columns import EventColumns, expand_columns
from stax.events import OffCpuInterval, Sample, Wakeup
from stax.recording import sample_sql
from stax.recording.interner import StackInterner
from stax_backend_linux.decode import compiled_stream, fast_decoder
from stax_backend_linux.decode.record_decoder import (
    KIND_SAMPLING,
    KIND_SCHED_WAKING,
    KIND_SWITCH_STACK,
    RecordDecoder,
)
from stax_backend_linux.decode.time_order import TimeOrderer
from stax_backend_linux.dwarf_callgraph.stack_sample_stream import DwarfSampleStream
from stax_backend_linux.off_cpu.stream import OffCpuStream
from stax_backend_linux.off_cpu.switch_tracker import SwitchTracker
from stax_backend_linux.off_cpu.wakeup_attribution import WakeupAttribution
from stax_binfmt.perf_dwarf_callgraph import DwarfSampling
from tests.backend_linux import perf_record_bytes as rb
from tests.backend_linux.conftest import ListSink, needs_root
from tests.backend_linux.decode.test_decoder_parity import (
    pingpong,  # noqa: F401  (the fixture: the ping-pong, compiled)
    record_pingpong,
)

SAMPLING, SWITCHES, WAKING = 11, 12, 13
KINDS = {SAMPLING: KIND_SAMPLING, SWITCHES: KIND_SWITCH_STACK, WAKING: KIND_SCHED_WAKING}
WAKING_PID_AT = 24
COUNTS = ("samples", "switch_records", "switch_stacks", "wakings", "lost_records", "lost_samples",
          "throttled", "off_cpu_throttled", "unknown_records")

compiled = pytest.mark.skipif(fast_decoder.load() is None,
                              reason="no compiled decoder (no compiler, or STAX_PURE_PYTHON=1)")

Rounds = list[list[bytes]]


def _fields(event: object) -> tuple[object, ...]:
    slots = [name for cls in type(event).__mro__ for name in getattr(cls, "__slots__", ())]
    return (type(event).__name__, *(getattr(event, name) for name in slots if not name.startswith("__")))


def _decoder(kinds: dict[int, int], waking_at: int, max_stack: int, identifier: bool = True) -> RecordDecoder:
    decoder = RecordDecoder(lambda path: b"\x01" * 20, max_stack, identifier=identifier)
    for ident, kind in kinds.items():
        decoder.register(ident, kind, waking_at if kind == KIND_SCHED_WAKING else -1)
    return decoder


def _unwinding(decoder: RecordDecoder, hybrid: bool) -> DwarfSampleStream | None:
    """The hybrid unwinding stage, wired into ``decoder`` (the records carry its dump), or None."""
    if not hybrid:
        return None
    stream = DwarfSampleStream(DwarfSampling.hybrid(), max_stack=decoder.max_stack)
    decoder.dump = stream.layout
    return stream


def _unwinding_counts(stream: DwarfSampleStream) -> dict[str, object]:
    u = stream.unwinder
    return {"streamed": stream.streamed, "bytes": stream.streamed_stack_bytes, "hybrid": u.hybrid_stacks,
            "checked": u.checked, "repaired": u.repaired, "unrepaired": u.unrepaired, "unwound": u.unwound,
            "truncated": u.truncated, "stops": dict(u.stop_reasons)}


def python_path(rounds: Rounds, decoder: RecordDecoder, *, keep_kernel: bool, target_only: bool,
                seed: Sequence[tuple[int, int]], end_time: int, names: bool = False) -> list[object]:
    """CaptureSession's rounds as the Python path runs them (decode, order, off-CPU stream)."""
    threads: dict[int, int] = {}
    stream = OffCpuStream(SwitchTracker(keep_kernel_ips=keep_kernel),
                          WakeupAttribution(threads, target_only=target_only, keep_kernel_ips=keep_kernel),
                          threads, name_from_proc=names)  # /proc names of outsiders: machine-dependent
    stream.seed(seed)
    orderer = TimeOrderer()
    out: list[object] = []
    for per_ring in rounds:
        out += stream.process(orderer.round([decoder.decode_python(c) for c in per_ring if c]))
    out += stream.process(orderer.flush())
    out += stream.finish(end_time)
    return out


def compiled_path(rounds: Rounds, decoder: RecordDecoder, *, keep_kernel: bool, target_only: bool,
                  seed: Sequence[tuple[int, int]], end_time: int, names: bool = False,
                  ) -> tuple[list[object], list[object]]:
    """The same through CompiledStream: (events as objects, the batches as delivered)."""
    stream = compiled_stream.for_decoder(decoder, hybrid=decoder.dump is not None)
    assert stream is not None
    stream.off_cpu(keep_kernel_ips=keep_kernel, wakeups=True, target_only=target_only, use_wchan=False)
    stream.name_from_proc = names
    stream.seed(seed)
    delivered: list[object] = []
    for per_ring in rounds:
        delivered += stream.round([c for c in per_ring if c])
    delivered += stream.flush()
    delivered += stream.finish(end_time)
    return expand_columns(delivered), delivered


def _batches(delivered: list[object]) -> list[list[object]]:
    """The delivered events cut into a few batches, as the capture hands them to the stages."""
    return [delivered[i:i + 7] for i in range(0, len(delivered), 7)]


def _by_kind(events: list[object]) -> dict[str, list[tuple[object, ...]]]:
    kinds: dict[str, list[tuple[object, ...]]] = {}
    for event in events:
        fields = _fields(event)
        kinds.setdefault(str(fields[0]), []).append(fields)
    return kinds


def assert_same(rounds: Rounds, kinds: dict[int, int], *, keep_kernel: bool = True, target_only: bool = True,
                seed: Sequence[tuple[int, int]] = (), end_time: int = 10**15, waking_at: int = WAKING_PID_AT,
                max_stack: int = 127, hybrid: bool = False) -> dict[str, int]:
    python = _decoder(kinds, waking_at, max_stack)
    fast = _decoder(kinds, waking_at, max_stack)
    python_unwinding, fast_unwinding = _unwinding(python, hybrid), _unwinding(fast, hybrid)
    want = python_path(rounds, python, keep_kernel=keep_kernel, target_only=target_only, seed=seed,
                       end_time=end_time)
    got, delivered = compiled_path(rounds, fast, keep_kernel=keep_kernel, target_only=target_only, seed=seed,
                                   end_time=end_time)
    if python_unwinding is not None and fast_unwinding is not None:  # the repair, after each path
        want = python_unwinding.process(want)
        delivered = [event for batch in _batches(delivered) for event in fast_unwinding.process(batch)]
        got = expand_columns(delivered)
        assert _unwinding_counts(fast_unwinding) == _unwinding_counts(python_unwinding)
        assert python_unwinding.streamed > 0
    assert _by_kind(got) == _by_kind(want)
    # the rare events keep their places between the runs of hot events
    hot = (Sample, OffCpuInterval, Wakeup)
    assert ([_fields(e) for e in delivered if type(e) is not EventColumns]
            == [_fields(e) for e in want if not isinstance(e, hot)])
    assert [getattr(fast, c) for c in COUNTS] == [getattr(python, c) for c in COUNTS]
    counts = {kind: len(events) for kind, events in _by_kind(want).items()}
    if python_unwinding is not None:
        unwinder = python_unwinding.unwinder
        counts |= {"checked": unwinder.checked, "repaired": unwinder.repaired}
    return counts


# -- synthesized rings --------------------------------------------------------------------------

def _chain(rng: random.Random, tid: int) -> list[int]:
    kernel = [0xFFFFFFFF81000000 + 16 * rng.randrange(4) for _ in range(rng.randrange(0, 3))]
    user = [0x401000 + 0x100 * tid + 16 * rng.randrange(3) for _ in range(rng.randrange(0, 4))]
    shape = rng.randrange(6)
    if shape == 0:
        return []
    if shape == 1:
        return [rb.CONTEXT_USER, *user]
    if shape == 2:
        return [rb.CONTEXT_GUEST, *kernel, rb.CONTEXT_USER, *user]  # the Python decoder's general splitter
    return [rb.CONTEXT_KERNEL, *kernel, rb.CONTEXT_USER, *user]


HYBRID_REGS = DwarfSampling.hybrid().regs_count


def _with_dump(record: bytes, rng: random.Random, tid: int) -> bytes:
    """``record`` (a sample) with a user register/stack dump after its callchain (user_dump.py's layout):
    one of a few per thread (so the copies repeat), or none (a kernel thread), or an empty copy."""
    rtype, misc, _size = struct.unpack_from("<IHH", record)
    shape = rng.randrange(8)
    if shape == 0:
        tail = struct.pack("<QQ", 0, 0)  # no user context: abi 0, no stack
    else:
        pick = rng.randrange(4)
        sp = 0x7FFC0000 + 0x100 * pick
        regs = struct.pack(f"<{HYBRID_REGS}Q", *([0x401000 + 0x100 * tid + 8 * pick, sp, sp + 0x40]
                                                 + [0] * HYBRID_REGS)[:HYBRID_REGS])
        size = 64
        filled = 0 if shape == 1 else rng.choice([64, 64, 40])
        data = bytes([tid + pick]) * filled + b"\0" * (size - filled)
        tail = struct.pack("<Q", 2) + regs + struct.pack("<Q", size) + data + struct.pack("<Q", filled)
    return rb._record(rtype, misc, record[8:] + tail)


def synthesized_rounds(seed: int, steps: int = 3000, by_time: bool = False, dumps: bool = False) -> Rounds:
    """Two rings of records of a few threads of pid 7 (and some outsiders), cut into rounds.

    The cuts are random per ring (a ring may lag rounds behind: the orderer then releases
    out of time order, as both paths must alike), or with ``by_time`` at common times, as
    real drain rounds are (each holds everything written before it ended)."""
    rng = random.Random(seed)
    tids = [7, 8, 9, 10]
    rings: list[list[tuple[int, bytes]]] = [[], []]
    clock = [1_000_000, 1_000_300]
    for _ in range(steps):
        cpu = rng.randrange(2)
        clock[cpu] += rng.choice([0, 1, 50, 999, 40_000, 6_000_000])  # ties, and gaps past the stack window
        when = clock[cpu]
        tid = rng.choice([*tids, 0, 77])  # 0: the idle task; 77: not the target's
        pid = 7 if tid in tids else tid
        choice = rng.randrange(20)
        if choice < 5:
            stack = rb.ident_sample(SWITCHES, 0xFFFFFFFF81000010, pid, tid, when, cpu, 1, _chain(rng, tid))
            if dumps:
                stack = _with_dump(stack, rng, tid)
            records = [stack,
                       rb.switch(pid, tid, when + rng.choice([0, 1, 6_000_000]), cpu, out=True,
                                 preempt=rng.random() < 0.4, ident=SWITCHES)]
            clock[cpu] = max(clock[cpu], when + 1)
        elif choice < 10:
            records = [rb.switch(pid, tid, when, cpu, out=rng.random() < 0.2, ident=SWITCHES,
                                 cpu_wide_next=rng.choice([None, (5, 6)]))]
        elif choice < 14:
            wakee = rng.choice([*tids, 77, 0, -3])
            raw = rb.sched_waking_raw(wakee, common_pid=tid)
            records = [rb.ident_sample(WAKING, 0xFFFFFFFF81000020, pid, tid, when, cpu, 1, _chain(rng, tid),
                                       raw=rng.choice([raw, raw, raw[:20]]))]
        elif choice < 17:
            records = [rb.ident_sample(SAMPLING, 0x401000, pid, tid, when, cpu, 1_001_001, _chain(rng, tid))]
            if dumps:
                records = [_with_dump(records[0], rng, tid)]
        elif choice == 17:
            new = max(tids) + 1
            tids.append(new)
            records = [rb.fork(7, 7, new, 7, when, cpu)]
        elif choice == 18 and len(tids) > 2:
            gone = tids.pop(rng.randrange(1, len(tids)))
            records = [rb.exit_(7, 7, gone, 7, when, cpu)]
        else:
            records = [rng.choice([rb.ident_comm(pid, tid, "w", when, cpu, ident=SAMPLING),
                                   rb.mmap2(7, 7, 0x400000, 0x1000, 0, "/bin/x", when, cpu),
                                   rb.lost(2, when, cpu)])]
        rings[cpu] += [(when, record) for record in records]
    rounds: Rounds = []
    if by_time:
        ends = sorted({when for ring in rings for when, _ in ring})
        cuts = sorted(rng.sample(ends, min(len(ends), steps // 50))) + [ends[-1]]
        at = [0, 0]
        for cut in cuts:
            per_ring = []
            for ring in (0, 1):
                stop = at[ring]
                while stop < len(rings[ring]) and rings[ring][stop][0] <= cut:
                    stop += 1
                per_ring.append(b"".join(record for _, record in rings[ring][at[ring]:stop]))
                at[ring] = stop
            rounds.append(per_ring)
        return rounds
    at = [0, 0]
    while at[0] < len(rings[0]) or at[1] < len(rings[1]):
        per_ring = []
        for ring in (0, 1):
            take = rng.randrange(0, 120)
            per_ring.append(b"".join(record for _, record in rings[ring][at[ring]:at[ring] + take]))
            at[ring] += take
        rounds.append(per_ring)
    return rounds


@compiled
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_synthesized_rounds_give_the_same_spans_wakeups_and_samples(seed: int) -> None:
    counts = assert_same(synthesized_rounds(seed), KINDS, seed=[(7, 7)], end_time=10**12)
    assert counts["OffCpuInterval"] > 100 and counts["Wakeup"] > 100 and counts["Sample"] > 100
    assert counts["ThreadStart"] and counts["ThreadExit"] and counts["ImageLoad"] and counts["LostNotice"]


@compiled
@pytest.mark.parametrize("seed", [1, 2])
def test_hybrid_dumps_give_the_same_repaired_samples_and_spans(seed: int) -> None:
    """Records with user register/stack copies: each distinct copy crosses once, and after the
    unwinding stage both paths give the same samples, spans and unwinding counts."""
    counts = assert_same(synthesized_rounds(seed, dumps=True), KINDS, seed=[(7, 7)], end_time=10**12,
                         hybrid=True)
    assert counts["OffCpuInterval"] > 100 and counts["Sample"] > 100
    assert_same(synthesized_rounds(seed + 10, steps=800, by_time=True, dumps=True), KINDS, keep_kernel=False,
                max_stack=3, hybrid=True)


@compiled
def test_without_kernel_ips_system_wide_and_closed_at_the_end() -> None:
    rounds = synthesized_rounds(4)
    counts = assert_same(rounds, KINDS, keep_kernel=False, target_only=False, end_time=2_000_000_000)
    assert counts["OffCpuInterval"] > 100
    # an end before the last switch-outs: those spans are dropped, not closed
    assert_same(rounds, KINDS, end_time=1_000_001)


@compiled
def test_rounds_cut_at_common_times_give_the_same_events() -> None:
    assert_same(synthesized_rounds(8, by_time=True), KINDS, seed=[(7, 7)], end_time=10**12)


@compiled
def test_short_stacks_count_as_truncated_alike() -> None:
    assert_same(synthesized_rounds(5, steps=800), KINDS, max_stack=3, seed=[(7, 7)])


@compiled
def test_raw_stacks_intern_to_the_same_stacks_as_their_events() -> None:
    """StackInterner.intern_raw gives each column row the id intern_stack gives its event, across an exec."""
    stream = compiled_stream.for_decoder(_decoder(KINDS, WAKING_PID_AT, 127))
    assert stream is not None
    stream.off_cpu(keep_kernel_ips=True, wakeups=True, target_only=False, use_wchan=False)
    batches = [stream.round(per_ring) for per_ring in synthesized_rounds(6)] + [stream.flush()]
    by_raw, by_event = StackInterner(), StackInterner()
    checked = 0
    for batch in batches:
        for event in batch:
            if type(event) is not EventColumns:
                continue
            ids = by_raw.intern_raw(event.stacks, event.sample_stack)
            want = [by_event.intern_stack(s.pid, s.kernel_ips, s.user_ips, s.user_stack_truncated)
                    for s in event.expand() if type(s) is Sample]
            assert list(ids) == want
            checked += len(ids)
            by_raw.exec(7)
            by_event.exec(7)  # pid 7's addresses mean something else now: both forget its stacks
    assert checked > 100


# -- a real capture -----------------------------------------------------------------------------

@compiled
@needs_root
@pytest.mark.parametrize("call_graph", ["fp-only", "fp"])
def test_real_ping_pong_rounds_give_the_same_events(pingpong: Path,  # noqa: F811  (the fixture)
                                                    monkeypatch: pytest.MonkeyPatch, call_graph: str) -> None:
    """fp-only, and the default hybrid fp (the repaired stacks after the unwinding stage), both of
    them captured through the compiled stream."""
    sink = ListSink()
    summary, seen, used = record_pingpong(pingpong, monkeypatch, sink, call_graph)
    assert summary.metadata["decoder"] == "compiled" and summary.lost_records == 0
    assert summary.metadata["capture_stream"] == "compiled"
    assert (used.dump is not None) == (call_graph == "fp")
    pid = summary.metadata["target_pid"]
    counts = assert_same(seen, dict(used.kinds), seed=[(pid, pid)], waking_at=used.waking_pid_offset,
                         max_stack=used.max_stack, end_time=2**63, hybrid=call_graph == "fp")
    assert counts["OffCpuInterval"] > 3000 and counts["Wakeup"] > 1000
    if call_graph == "fp":  # the leaf libc wrappers (read, write) were repaired alike
        assert counts["repaired"] > 1000
    # what the capture delivered is what the replay gives
    assert len(sink.of(OffCpuInterval)) == counts["OffCpuInterval"]


@compiled
def test_spans_linked_at_capture_name_the_wakeup_link_wakeups_would(tmp_path: Path) -> None:
    """The compiled stream links each span to the wakee's last wakeup inside it as it closes the span;
    the recording holds what link_wakeups' SQL would choose (ties at the very end aside)."""
    from stax.recording.writer import RecordingBuilder

    stream = compiled_stream.for_decoder(_decoder(KINDS, WAKING_PID_AT, 127))
    assert stream is not None
    stream.off_cpu(keep_kernel_ips=True, wakeups=True, target_only=False, use_wchan=False)
    builder = RecordingBuilder(tmp_path / "linked.stax")
    for per_ring in synthesized_rounds(7, by_time=True):
        builder.consume(stream.round(per_ring))
    builder.consume(stream.flush())
    builder.consume(stream.finish(10**12))
    assert builder.file.unlinked_spans == 0
    builder.finish(symbolicate=False)
    db = sample_sql.connect(tmp_path / "linked.stax")  # the wakeups view decodes blocks through it
    rows = db.execute("SELECT id, time, wakee_tid FROM wakeups")
    wakeups = {wid: (time, wakee) for wid, time, wakee in rows}
    linked = 0
    for start, end, tid, wakeup_id in db.execute("SELECT start, end, tid, wakeup_id FROM off_cpu_spans"):
        inside = [wid for wid, (time, wakee) in wakeups.items() if wakee == tid and start <= time <= end]
        if wakeup_id is None:
            assert all(wakeups[wid][0] == end for wid in inside)
            continue
        linked += 1
        assert wakeup_id in inside
        assert all(wakeups[wid][0] in (wakeups[wakeup_id][0], end) for wid in inside if wid > wakeup_id)
    assert linked > 50


@compiled
def test_threads_outside_the_target_are_named_from_proc_alike() -> None:
    """A thread outside the target that wakes it (this test's own) gets its /proc name once, on both paths."""
    me = os.getpid()
    ring = b"".join(rb.ident_sample(WAKING, 0xFFFFFFFF81000020, me, me, when, 0, 1, [],
                                    raw=rb.sched_waking_raw(7, common_pid=me))
                    for when in (1_000, 2_000, 3_000))
    rounds = [[ring, b""], [b"", b""]]
    both = []
    for path in (python_path, compiled_path):
        decoder = _decoder(KINDS, WAKING_PID_AT, 127)
        out = path(rounds, decoder, keep_kernel=True, target_only=True, seed=[(7, 7)], end_time=10**6,
                   names=True)
        events = out[1] if path is compiled_path else out
        both.append(_by_kind(expand_columns(events)))  # type: ignore[arg-type]
    python, fast = both
    assert fast == python
    mine = Path(f"/proc/{me}/comm").read_text().strip()
    named = [e[:5] for e in fast["ThreadName"] if e[3] == me]
    assert named == [("ThreadName", 1_000, me, me, mine)]
    assert len(fast["Wakeup"]) == 3
