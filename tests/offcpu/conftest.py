"""Synthetic off-CPU recordings shared by the off-CPU view tests.

``nap``: one thread sleeping 10 x 100 ms in nap(), some CPU work and 3 preemptions.
``pingpong``: a reader blocked 200 times in read() on a pipe, 196 of them woken by
the writer thread from write(); the writer blocks 20 times on a futex, woken by the
reader; both threads have hardware counters.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stax.blocked_reason import BlockedReason
from tests.offcpu.synthetic_off_cpu import MS, OffCpuRecording

NAP_STACK = "_start;main;nap;clock_nanosleep;hrtimer_nanosleep;do_nanosleep;schedule;__schedule"
TIMER_WAKER = "hrtimer_wakeup;try_to_wake_up"
READ_STACK = "_start;main;reader_loop;read;ksys_read;pipe_read;schedule;__schedule"
WRITE_WAKER = "_start;start_thread;writer_loop;write;ksys_write;pipe_write;__wake_up_common;try_to_wake_up"
LOCK_STACK = ("_start;start_thread;writer_loop;pthread_mutex_lock;__x64_sys_futex;futex_wait_queue;"
              "schedule;__schedule")
UNLOCK_WAKER = "_start;main;reader_loop;pthread_mutex_unlock;__x64_sys_futex;futex_wake;try_to_wake_up"

NAP_PID = 300
READER, WRITER = 201, 202


@pytest.fixture(scope="session")
def nap_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rec = OffCpuRecording(tmp_path_factory.mktemp("nap") / "nap.stax", NAP_PID, {NAP_PID: "nap"})
    rec.samples("_start;main;compute", NAP_PID, 50)
    for _ in range(10):
        rec.span(NAP_STACK, NAP_PID, 100 * MS, BlockedReason.SLEEP, waker=(0, TIMER_WAKER),
                 waker_pid=0, wait_site="do_nanosleep")
    for _ in range(3):
        rec.span("_start;main;compute", NAP_PID, 2 * MS, BlockedReason.PREEMPTED)
    return rec.write()


@pytest.fixture(scope="session")
def pingpong_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rec = OffCpuRecording(tmp_path_factory.mktemp("pingpong") / "pingpong.stax", 200,
                          {200: "pingpong", READER: "reader", WRITER: "writer"})
    rec.samples("_start;main;reader_loop;parse", READER, 30)
    rec.samples("_start;start_thread;writer_loop;produce", WRITER, 70)
    for i in range(200):
        waker = None if i % 50 == 49 else (WRITER, WRITE_WAKER)  # 4 spans with no wakeup
        rec.span(READ_STACK, READER, 5 * MS, BlockedReason.PIPE_IPC, waker=waker, wait_site="pipe_read")
        if i % 10 == 0:
            rec.span(LOCK_STACK, WRITER, 1 * MS, BlockedReason.LOCK, waker=(READER, UNLOCK_WAKER),
                     wait_site="futex_wait_queue")
    rec.span("_start;start_thread;writer_loop;produce", WRITER, 3 * MS, BlockedReason.PREEMPTED)
    rec.counters(READER, {"cycles": 1_000_000, "instructions": 1_500_000})
    rec.counters(WRITER, {"cycles": 4_000_000, "instructions": 2_000_000})
    return rec.write()
