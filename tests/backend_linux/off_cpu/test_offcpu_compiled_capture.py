"""Off-CPU recording through the compiled capture stream (decode/fast_stream.c), end to end.

With ``--call-graph fp-only`` no sample carries a user stack copy, so the compiled stream
does the whole drain round: scan, time order, spans, wakeups and their links.  The same
workloads and checks as test_offcpu_capture.py (which records in the default hybrid mode,
through the Python path) hold here, as root and as uid 65534 (no kernel stacks: blocked
reasons from /proc wchan).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backend_linux.off_cpu.test_offcpu_capture import (  # noqa: F401  (fixtures)
    Captured,
    offcpu_bin,
    offcpu_out,
    record,
)
from tests.backend_linux.off_cpu.test_offcpu_capture import (
    test_mutex_waits_are_lock_woken_by_the_unlocking_thread as check_mutex,
)
from tests.backend_linux.off_cpu.test_offcpu_capture import (
    test_pingpong_reader_waits_are_pipe_ipc_woken_by_the_writer as check_pingpong,
)

FP_ONLY = ("--call-graph", "fp-only")


@pytest.fixture(scope="module")
def compiled_pingpong(offcpu_bin: dict[str, Path], offcpu_out: Path) -> Captured:  # noqa: F811
    return record(offcpu_bin, offcpu_out, "pingpong", "200", options=FP_ONLY)


def test_pingpong_through_the_compiled_stream(compiled_pingpong: Captured) -> None:
    meta = compiled_pingpong.meta
    assert meta["backend.decoder"] == "compiled" and meta["lost_records"] == 0
    assert meta["backend.off_cpu_spans"] == len(compiled_pingpong.spans) > 200
    check_pingpong(compiled_pingpong)


def test_mutex_through_the_compiled_stream(offcpu_bin: dict[str, Path], offcpu_out: Path) -> None:  # noqa: F811
    mutex = record(offcpu_bin, offcpu_out, "mutex", options=FP_ONLY)
    assert mutex.meta["backend.decoder"] == "compiled"
    check_mutex(mutex)


def test_unprivileged_compiled_stream_takes_reasons_from_wchan(offcpu_bin: dict[str, Path],  # noqa: F811
                                                              offcpu_out: Path) -> None:  # noqa: F811
    if int(Path("/proc/sys/kernel/perf_event_paranoid").read_text()) < 2:
        pytest.skip("perf_event_paranoid < 2 lets users record kernel stacks")
    nap = record(offcpu_bin, offcpu_out, "nap", as_nobody=True, options=FP_ONLY)
    assert nap.meta["backend.decoder"] == "compiled"
    assert nap.meta["backend.off_cpu_reason_source"] == "wchan" and nap.meta["backend.wchan_reads"] > 0
    (main,) = [t.tid for t in nap.threads if t.tid == t.pid and t.name == "nap"]
    naps = [s for s in nap.of(main) if s["end"] - s["start"] > 90_000_000]
    assert len(naps) == 10
    assert {s["reason"] for s in naps} <= {"sleep", "other"} and any(s["reason"] == "sleep" for s in naps)
    assert not nap.wakeups
