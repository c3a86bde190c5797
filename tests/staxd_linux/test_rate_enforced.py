"""The granted sampling rate holds after the grant: PERF_EVENT_IOC_PERIOD on a granted fd does not
raise the rate of samples a member receives.

A uid-65534 client (ring_client.py, under setpriv) gets a 1000 Hz cpu-clock grant for a child that
busy-loops on CPU 0, then sets the period itself, as any holder of a perf fd may: 20000 (for
cpu-clock the kernel has turned the frequency into a period of 1e9/freq ns at open, so this is a
20 us period, 50 kHz), and 1 (the hrtimer's floor of 10 us, 100 kHz).  One second later the ring
holds about the granted 1000 samples, not 20 to 100 times more: staxd's BPF program on each
event (rate_limit.py) drops the samples above the grant.
"""

from __future__ import annotations

import os
import shutil
import struct
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from stax_binfmt import perf_event_attr as pea
from stax_binfmt.perf_event_ffi import perf_event_open
from staxd_linux.rate_limit import BURST_NS, RateLimit, RateLimitError, program
from tests.staxd_linux import conftest
from tests.staxd_linux.conftest import StaxdProcess, as_nobody
from tests.staxd_linux.test_doctor import _rows as _doctor_rows

GRANTED_HZ = 1000
CEILING = 1.1 * GRANTED_HZ  # one CPU, one second, plus the limiter's burst and the drain's slack


@pytest.mark.parametrize("period", ["20000", "1"])
def test_raising_the_period_after_the_grant_does_not_raise_the_rate(staxd: StaxdProcess, period: str) -> None:
    out = as_nobody("rate", staxd.socket, str(GRANTED_HZ), period, script="ring_client.py")
    # The busy child runs on CPU 0 for the whole second: without the limiter its samples would be
    # 50,000 (period 20 us) or ~100,000 (throttled at kernel.perf_event_max_sample_rate).
    assert out["samples"] <= CEILING * out["seconds"], out
    assert out["rate_limit"] == "kernel", out


def test_the_granted_rate_itself_is_delivered(staxd: StaxdProcess) -> None:
    """The limiter drops only what is above the grant: an untouched 1000 Hz event keeps its samples.

    cpu-clock samples CPU time, and the child gets less than the whole second on a busy host; its
    utime + stime (in clock ticks) is the measure, hence the margin below.
    """
    out = as_nobody("rate", staxd.socket, str(GRANTED_HZ), "none", script="ring_client.py")
    assert out["samples"] >= 0.85 * GRANTED_HZ * out["cpu_seconds"], out
    assert out["samples"] <= CEILING * out["seconds"], out


def test_a_second_program_cannot_replace_the_limit() -> None:
    """SET_BPF takes once per event: the holder of the fd cannot swap staxd's program out (EEXIST)."""
    attr = pea.new_attr(pea.PERF_TYPE_SOFTWARE, pea.PERF_COUNT_SW_CPU_CLOCK, ["disabled"],
                        sample_period=1_000_000)
    fd = perf_event_open(attr, 0, -1)
    try:
        with RateLimit(GRANTED_HZ) as first:
            first.attach(fd)
        with RateLimit(100_000) as second, pytest.raises(RateLimitError, match=r"fails with EEXIST"):
            second.attach(fd)
    finally:
        os.close(fd)


def test_the_program_is_the_documented_one() -> None:
    """21 slots; both forward jumps land on the drop (r0 = 0; exit), the pass path returns 1."""
    code = program(map_fd=3, period_ns=1_000_000)
    slots = [struct.unpack_from("<BBhi", code, at) for at in range(0, len(code), 8)]
    assert len(slots) == 21
    jumps = {pc: pc + 1 + off for pc, (op, _regs, off, _imm) in enumerate(slots) if op & 0x07 == 0x05
             and op & 0xF0 in (0x10, 0x20, 0x30)}
    assert jumps == {6: 19, 12: 19, 13: 15}
    assert slots[19][0] == 0xB7 and slots[19][3] == 0 and slots[17][3] == 1  # mov r0, 0 / mov r0, 1
    assert slots[15][3] == 1_000_000 and slots[11][3] == BURST_NS


@pytest.fixture(scope="module")
def staxd_without_bpf() -> Iterator[StaxdProcess]:
    """staxd on a host where bpf(2) fails (deny_bpf.py: a seccomp filter answering ENOSYS)."""
    path = Path(tempfile.mkdtemp(prefix="staxd-nobpf-"))
    os.chmod(path, 0o755)
    deny_bpf = (sys.executable, str(conftest.HERE / "deny_bpf.py"))
    daemon = StaxdProcess(path, launcher=(*conftest.UNIT_SANDBOX, *deny_bpf))
    yield daemon
    daemon.stop()
    shutil.rmtree(path, ignore_errors=True)


def test_without_bpf_grants_go_on_and_staxd_says_the_rate_holds_only_at_open(
        staxd_without_bpf: StaxdProcess) -> None:
    assert ("sampling rates are enforced only when events are opened, because BPF is unavailable "
            "(bpf(2) fails with ENOSYS creating a map); a member can raise a granted event's rate with "
            "PERF_EVENT_IOC_PERIOD"
            in staxd_without_bpf.log())
    out = as_nobody("rate", staxd_without_bpf.socket, str(GRANTED_HZ), "none", script="ring_client.py")
    assert out["rate_limit"] == "open-time"
    assert out["samples"] >= 0.85 * GRANTED_HZ * out["cpu_seconds"], out
    rows = _doctor_rows(staxd_without_bpf.socket)
    assert rows["staxd reachable"]["reason"] == (
        f"staxd-linux 0.1.0 answers on {staxd_without_bpf.socket}, but it can hold max_frequency only when "
        f"it opens events (BPF is unavailable to it), so a member can raise a granted sampling rate")
    assert rows["staxd reachable"]["fix"] == ("let staxd use bpf(2): a kernel with CONFIG_BPF_SYSCALL, and "
                                              "no seccomp filter or lockdown refusing it")
