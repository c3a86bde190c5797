"""perf_event_attr: the struct layout matches the uapi header and flag bits are set by name."""

from __future__ import annotations

import os
import time

import pytest

from stax_binfmt import perf_event_attr as pea
from stax_binfmt.perf_event_ffi import PerfEventError, ffi, perf_event_open


def test_attr_layout_matches_uapi_offsets() -> None:
    f = ffi()
    # offsets from <linux/perf_event.h>, PERF_ATTR_SIZE_VER7
    assert f.sizeof("struct perf_event_attr") == 128
    assert f.offsetof("struct perf_event_attr", "sample_type") == 24
    assert f.offsetof("struct perf_event_attr", "flags") == 40
    assert f.offsetof("struct perf_event_attr", "wakeup_watermark") == 48
    assert f.offsetof("struct perf_event_attr", "clockid") == 92
    assert f.offsetof("struct perf_event_attr", "sample_max_stack") == 108
    assert f.offsetof("struct perf_event_mmap_page", "data_head") == 1024
    assert f.offsetof("struct perf_event_mmap_page", "data_tail") == 1032


def test_flag_bits_by_name() -> None:
    assert pea.flag_word(["disabled"]) == 1
    assert pea.flag_word(["inherit", "exclude_kernel"]) == 0b100010
    assert pea.flag_word(["mmap2"]) == 1 << 23
    assert pea.flag_word(["build_id"]) == 1 << 34
    assert pea.flag_names(pea.flag_word(["comm_exec", "use_clockid", "task"])) == {
        "comm_exec", "use_clockid", "task"}
    with pytest.raises(KeyError):
        pea.flag_word(["no_such_bit"])


def test_sampling_attr_user_only_command() -> None:
    attr = pea.sampling_attr(999, kernel=False, enable_on_exec=True, inherit=True, wakeup_bytes=4096)
    assert attr.type == pea.PERF_TYPE_SOFTWARE and attr.config == pea.PERF_COUNT_SW_CPU_CLOCK
    assert attr.size == 128
    assert attr.sample_freq == 999
    assert attr.sample_type == 0b1_1010_0111  # IP|TID|TIME|CALLCHAIN|CPU|PERIOD
    assert attr.clockid == time.CLOCK_MONOTONIC
    assert attr.wakeup_watermark == 4096
    assert pea.flag_names(attr.flags) == {
        "freq", "sample_id_all", "use_clockid", "mmap", "mmap2", "build_id", "comm", "comm_exec",
        "task", "watermark", "exclude_hv", "exclude_kernel", "exclude_callchain_kernel",
        "disabled", "enable_on_exec", "inherit"}


def test_sampling_attr_with_kernel_system_wide() -> None:
    names = pea.flag_names(pea.sampling_attr(99, kernel=True, enable_on_exec=False, inherit=False,
                                             wakeup_bytes=1).flags)
    assert not names & {"exclude_kernel", "exclude_callchain_kernel", "disabled", "enable_on_exec", "inherit"}


def test_kernel_accepts_the_attr() -> None:
    attr = pea.sampling_attr(999, kernel=False, enable_on_exec=False, inherit=True, wakeup_bytes=4096)
    try:
        fd = perf_event_open(attr, 0, -1)
    except PerfEventError as exc:  # pragma: no cover - host without perf events
        pytest.skip(f"perf_event_open unavailable: {exc}")
    os.close(fd)
