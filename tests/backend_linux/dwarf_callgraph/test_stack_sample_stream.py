"""The spool, the sample tail decoder and the stream stage, on synthesized records (no kernel).

The stream's contract with core's RecordingBuilder: a sample is delivered before any
event that changes what its addresses mean in its process (exec, an overlapping
mapping, a new process reusing the pid), and everything else after the capture.
"""

from __future__ import annotations

import struct

import pytest

from stax.events import ImageKind, ImageLoad, Sample, ThreadName, ThreadStart
from stax_backend_linux.decode.user_dump import UserDumpLayout
from stax_backend_linux.dwarf_callgraph import spool as stack_sample_spool
from stax_backend_linux.dwarf_callgraph.spool import StackSampleSpool
from stax_backend_linux.dwarf_callgraph.stack_sample import StackSample
from stax_backend_linux.dwarf_callgraph.stack_sample_stream import DwarfSampleStream
from stax_binfmt.perf_dwarf_callgraph import DwarfSampling, stack_size_for
from stax_binfmt.perf_event_attr import (
    PERF_SAMPLE_REGS_USER,
    PERF_SAMPLE_STACK_USER,
    flag_names,
    sampling_attr,
)

REGS = 17


def _sample(time: int, pid: int = 10, stack: bytes = b"\x01" * 24, regs: bytes | None = None) -> StackSample:
    regs = regs if regs is not None else struct.pack(f"<{REGS}Q", *range(REGS))
    return StackSample(time, pid, pid, 0, 1000, (0xFFFFFFFF81000000 + time,), (), regs, stack)


def test_attr_bits() -> None:
    attr = sampling_attr(99, kernel=True, enable_on_exec=False, inherit=True, wakeup_bytes=4096)
    attr = DwarfSampling.for_size(4100).apply(attr)
    assert attr.sample_type & (PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)
    assert attr.sample_stack_user == 4096  # rounded down to 8
    assert bin(attr.sample_regs_user).count("1") == REGS
    assert "exclude_callchain_user" in flag_names(attr.flags)
    assert stack_size_for(65528) == 65528


def test_tail_layout() -> None:
    regs = struct.pack(f"<{REGS}Q", *range(100, 100 + REGS))
    stack = bytes(range(64))
    tail = struct.pack("<Q", 2) + regs + struct.pack("<Q", 64) + stack + struct.pack("<Q", 40)
    layout = UserDumpLayout(DwarfSampling().regs_mask)
    got_regs, got_stack = layout.read(b"\0" * 8 + tail, 8)
    assert got_regs == regs
    assert got_stack == stack[:40]  # only what the kernel filled (dyn_size)
    assert layout.read(struct.pack("<QQ", 0, 0), 0) == (b"", b"")
    assert layout.read(tail[:40], 0) == (b"", b"")  # cut short: no dump rather than a wrong one


def test_spool_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack_sample_spool, "READ_CHUNK", 1000)  # records straddle the read chunks
    spool = StackSampleSpool()
    try:
        written = [_sample(t, stack=bytes([t % 256]) * (t * 97 % 5000)) for t in range(1, 300)]
        offsets = [spool.write(s) for s in written]
        back = list(spool.replay())
        assert [o for o, _ in back] == offsets
        for (_, got), want in zip(back, written, strict=True):
            assert (got.time, got.kernel_ips, got.regs, got.stack) == (want.time, want.kernel_ips,
                                                                        want.regs, want.stack)
        assert spool.read_at(offsets[123]).stack == written[123].stack
    finally:
        spool.close()


def _stream() -> DwarfSampleStream:
    return DwarfSampleStream(DwarfSampling())


def test_samples_wait_for_the_end() -> None:
    stream = _stream()
    load = ImageLoad(0, 10, 0x1000, 0x2000, 0, "/nonexistent/prog", ImageKind.ELF)
    out = stream.process([load, _sample(1), _sample(2), ThreadName(3, 10, 10, "x")])
    assert [type(e) for e in out] == [ImageLoad, ThreadName]
    finished = [e for batch in stream.finish() for e in batch]
    assert [(type(e), e.time) for e in finished] == [(Sample, 1), (Sample, 2)]
    assert finished[0].kernel_ips == (0xFFFFFFFF81000001,)
    stream.close()


def test_exec_delivers_the_old_image_samples_first() -> None:
    stream = _stream()
    out = stream.process([
        ImageLoad(0, 10, 0x1000, 0x2000, 0, "/bin/sh", ImageKind.ELF),
        _sample(1), _sample(2, pid=11),
        ThreadName(3, 10, 10, "prog", is_exec=True),
        ImageLoad(4, 10, 0x1000, 0x2000, 0, "/bin/prog", ImageKind.ELF),
        _sample(5),
    ])
    kinds = [(type(e).__name__, e.time) for e in out]
    assert kinds == [("ImageLoad", 0), ("Sample", 1), ("ThreadName", 3), ("ImageLoad", 4)]
    rest = [(e.pid, e.time) for batch in stream.finish() for e in batch]
    assert rest == [(11, 2), (10, 5)]  # the early one is not delivered twice
    stream.close()


def test_overlapping_mapping_and_pid_reuse_deliver_first() -> None:
    stream = _stream()
    out = stream.process([
        ImageLoad(0, 10, 0x1000, 0x2000, 0, "/lib/a.so", ImageKind.ELF),
        _sample(1),
        ImageLoad(2, 10, 0x3000, 0x4000, 0, "/lib/b.so", ImageKind.ELF),  # no overlap: nothing moves
        _sample(3),
        ImageLoad(4, 10, 0x1800, 0x2800, 0, "/lib/c.so", ImageKind.ELF),  # replaces part of a.so
        _sample(5),
        ThreadStart(6, 10, 10, 1, 1),  # pid 10 reused by a new process
    ])
    kinds = [(type(e).__name__, e.time) for e in out]
    assert kinds == [("ImageLoad", 0), ("ImageLoad", 2), ("Sample", 1), ("Sample", 3), ("ImageLoad", 4),
                     ("Sample", 5), ("ThreadStart", 6)]
    assert [e for batch in stream.finish() for e in batch] == []
    stream.close()


def test_sample_without_user_registers() -> None:
    stream = _stream()
    stream.process([_sample(1, regs=b"", stack=b"")])
    (sample,) = [e for batch in stream.finish() for e in batch]
    assert sample.user_ips == () and not sample.user_stack_truncated
    stream.close()


def test_spool_round_trip_of_off_cpu_intervals() -> None:
    """A switch-out's dump travels with its span: every field back as written, beside samples."""
    from stax.blocked_reason import BlockedReason
    from stax.events import OffCpuInterval
    from stax_backend_linux.off_cpu.records import DumpedInterval

    spool = StackSampleSpool()
    try:
        span = OffCpuInterval(100, 900, 10, 11, 1, BlockedReason.PIPE_IPC, "anon_pipe_read",
                              (0xFFFFFFFF81000001, 0xFFFFFFFF81000002), (0x401000, 0x401234), 12)
        quiet = OffCpuInterval(5, 6, 10, 11, 0, BlockedReason.OTHER)
        written = [DumpedInterval(span, b"r" * 24, b"s" * 512), _sample(50),
                   DumpedInterval(quiet, b"q" * 24, b"")]
        offsets = [spool.write_interval(r) if isinstance(r, DumpedInterval) else spool.write(r)
                   for r in written]
        back = [record for _, record in spool.replay()]
        assert isinstance(back[0], DumpedInterval) and back[0].interval == span
        assert (back[0].regs, back[0].stack) == (b"r" * 24, b"s" * 512)
        assert isinstance(back[1], StackSample) and back[1].stack == written[1].stack
        assert back[2].interval == quiet  # no waker, no wait site, no stacks
        again = spool.read_at(offsets[2])
        assert isinstance(again, DumpedInterval) and again.interval == quiet and again.regs == b"q" * 24
    finally:
        spool.close()


def test_splice_joins_the_kernel_walk_where_the_cfi_walk_meets_it() -> None:
    from stax_backend_linux.dwarf_callgraph.unwind_pass import splice_fp_chain
    from stax_backend_linux.unwind import StopReason

    leaf, caller, main_ret, start_ret = 0x7F00_0010, 0x40_1010, 0x40_2020, 0x7F00_3030
    fp = (leaf, main_ret, start_ret)  # the kernel skipped the caller of the frameless leaf
    assert splice_fp_chain([leaf, caller, main_ret], StopReason.JOINED, fp) == (leaf, caller, main_ret,
                                                                               start_ret)
    assert splice_fp_chain([leaf, caller, main_ret, start_ret], StopReason.OUTERMOST, fp) == (
        leaf, caller, main_ret, start_ret)
    assert splice_fp_chain([leaf, caller], StopReason.STACK_EXHAUSTED, fp) is None  # keep the kernel's
