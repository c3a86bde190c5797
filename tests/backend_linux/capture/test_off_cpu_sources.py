"""kallsyms visibility, sched_waking's tracefs format, tracefs, wchan, and the off-CPU attrs."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from stax.blocked_reason import BlockedReason
from stax_backend_linux.off_cpu.reasons import read_wchan, reason_from_wchan
from stax_backend_linux.off_cpu.sched_waking import TracefsUnavailable, load_sched_waking, tracefs_root
from stax_binfmt import perf_event_attr as pea
from stax_binfmt.kallsyms import kernel_addresses_visible
from stax_binfmt.tracefs import parse_format, readable_root
from tests.readiness import wait_until_sleeping

FORMAT_6X = """name: sched_waking
ID: 375
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;
\tfield:int prio;\toffset:28;\tsize:4;\tsigned:1;
\tfield:int target_cpu;\toffset:32;\tsize:4;\tsigned:1;

print fmt: "comm=%s pid=%d prio=%d target_cpu=%03d", REC->comm, REC->pid, REC->prio, REC->target_cpu
"""


def test_parse_tracefs_format() -> None:
    fields = parse_format(FORMAT_6X)
    assert fields["pid"].offset == 24 and fields["pid"].size == 4 and fields["pid"].signed
    assert fields["comm"].offset == 8 and fields["comm"].size == 16
    assert fields["common_pid"].offset == 4 and fields["target_cpu"].offset == 32


def test_reason_from_wchan() -> None:
    assert reason_from_wchan("futex_wait_queue") == (BlockedReason.LOCK, "futex_wait_queue")
    assert reason_from_wchan("do_nanosleep") == (BlockedReason.SLEEP, "do_nanosleep")
    assert reason_from_wchan("") == (BlockedReason.OTHER, "")


def test_kernel_addresses_visible_reads_the_first_address(tmp_path: Path) -> None:
    shown, hidden = tmp_path / "shown", tmp_path / "hidden"
    shown.write_bytes(b"ffffffff81000000 T _text\nffffffff81000100 t schedule\n")
    hidden.write_bytes(b"0000000000000000 T _text\n0000000000000000 t schedule\n")
    assert kernel_addresses_visible(str(shown))
    assert not kernel_addresses_visible(str(hidden))
    assert not kernel_addresses_visible(str(tmp_path / "missing"))


def test_wchan_of_a_sleeping_thread_of_ours() -> None:
    done = threading.Event()
    tid: list[int] = []

    def sleeper() -> None:
        tid.append(threading.get_native_id())
        done.wait(5)

    thread = threading.Thread(target=sleeper)
    thread.start()
    try:
        wait_until_sleeping(os.getpid(), tid[0])
        name = read_wchan(os.getpid(), tid[0])
        assert name == "" or reason_from_wchan(name)[0] is BlockedReason.LOCK, name
    finally:
        done.set()
        thread.join()
    assert read_wchan(os.getpid(), 2**22 + 7) == ""


def test_context_switch_attr_with_and_without_stacks() -> None:
    with_stacks = pea.context_switch_attr(stacks=True, kernel_callchain=True, enable_on_exec=True,
                                          inherit=True, wakeup_bytes=4096)
    assert with_stacks.type == pea.PERF_TYPE_SOFTWARE
    assert with_stacks.config == pea.PERF_COUNT_SW_CONTEXT_SWITCHES and with_stacks.sample_period == 1
    assert with_stacks.sample_type == pea.SHARED_RING_SAMPLE_TYPE
    names = pea.flag_names(with_stacks.flags)
    assert {"context_switch", "sample_id_all", "use_clockid", "enable_on_exec", "inherit"} <= names
    assert not names & {"exclude_kernel", "exclude_callchain_kernel"}
    plain = pea.context_switch_attr(stacks=False, kernel_callchain=False, enable_on_exec=False,
                                    inherit=True, wakeup_bytes=4096)
    assert plain.config == pea.PERF_COUNT_SW_DUMMY and plain.sample_period == 0
    assert {"context_switch", "exclude_kernel"} <= pea.flag_names(plain.flags)


def test_sched_waking_attr() -> None:
    attr = pea.sched_waking_attr(375, kernel_callchain=False, wakeup_bytes=1)
    assert attr.type == pea.PERF_TYPE_TRACEPOINT and attr.config == 375 and attr.sample_period == 1
    assert attr.sample_type == pea.SHARED_RING_SAMPLE_TYPE | pea.PERF_SAMPLE_RAW
    assert {"disabled", "exclude_callchain_kernel", "sample_id_all"} <= pea.flag_names(attr.flags)


def test_sampling_attr_identifier_only_when_asked() -> None:
    plain = pea.sampling_attr(99, kernel=False, enable_on_exec=False, inherit=False, wakeup_bytes=1)
    shared = pea.sampling_attr(99, kernel=False, enable_on_exec=False, inherit=False, wakeup_bytes=1,
                               identifier=True)
    assert plain.sample_type == pea.SAMPLE_TYPE
    assert shared.sample_type == pea.SHARED_RING_SAMPLE_TYPE


@pytest.mark.skipif(os.geteuid() != 0, reason="tracefs is root-only")
def test_root_finds_or_mounts_tracefs_and_reads_sched_waking() -> None:
    root = tracefs_root()
    assert readable_root() == root
    waking = load_sched_waking(root)
    assert waking.tracepoint_id > 0
    assert waking.fields["pid"].size == 4
    assert int((root / "events/sched/sched_waking/id").read_text()) == waking.tracepoint_id


def test_missing_tracepoint_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    with pytest.raises(TracefsUnavailable, match="sched:sched_waking tracepoint is missing"):
        load_sched_waking(tmp_path)
