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

import pytest

from tests.staxd.conftest import StaxdProcess, as_nobody

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
