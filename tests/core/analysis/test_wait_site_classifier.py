"""The documented wait-site -> blocked-reason mapping (docs/blocked-reasons.md)."""

import pytest

from stax.blocked_reason import BlockedReason as R
from stax.wait_site_classifier import classify_wait_site, classify_wchan

CASES = [
    # real kernel 6.x wait stacks, leaf first
    (["__schedule", "schedule", "do_nanosleep", "hrtimer_nanosleep", "__x64_sys_clock_nanosleep"],
     R.SLEEP, "do_nanosleep"),
    (["__schedule", "schedule", "futex_wait_queue", "__futex_wait", "futex_wait", "do_futex"],
     R.LOCK, "futex_wait_queue"),
    (["__schedule", "schedule", "pipe_read", "vfs_read", "ksys_read"], R.PIPE_IPC, "pipe_read"),
    (["__schedule", "schedule", "pipe_write", "vfs_write"], R.PIPE_IPC, "pipe_write"),
    # Newer kernels (6.18 here) name the anonymous-pipe file operations anon_pipe_read/_write.
    (["schedule", "anon_pipe_read", "vfs_read", "ksys_read"], R.PIPE_IPC, "anon_pipe_read"),
    (["__schedule", "schedule", "io_schedule", "folio_wait_bit_common", "filemap_get_pages",
      "filemap_read", "ext4_file_read_iter [ext4]", "vfs_read"], R.DISK_IO, "io_schedule"),
    (["__schedule", "schedule", "io_schedule", "folio_wait_bit_common", "filemap_fault",
      "__do_fault", "handle_mm_fault", "do_user_addr_fault", "exc_page_fault"],
     R.PAGE_FAULT, "handle_mm_fault"),
    (["__schedule", "schedule", "schedule_hrtimeout_range", "ep_poll", "do_epoll_wait"],
     R.POLL, "ep_poll"),
    (["__schedule", "schedule", "schedule_hrtimeout_range", "do_sys_poll"], R.POLL, "do_sys_poll"),
    (["__schedule", "schedule", "schedule_timeout", "wait_woken", "sk_wait_data", "tcp_recvmsg_locked"],
     R.NETWORK, "sk_wait_data"),
    (["__schedule", "schedule", "schedule_timeout", "unix_stream_read_generic", "unix_stream_recvmsg"],
     R.PIPE_IPC, "unix_stream_read_generic"),
    (["__schedule", "schedule", "rwsem_down_read_slowpath", "down_read"], R.LOCK,
     "rwsem_down_read_slowpath"),
    (["__schedule", "schedule", "do_wait", "kernel_wait4"], R.SLEEP, "do_wait"),
    (["__schedule", "schedule", "worker_thread", "kthread"], R.OTHER, ""),
    ([], R.OTHER, ""),
]


@pytest.mark.parametrize(("frames", "reason", "site"), CASES, ids=[str(c[1]) + "-" + (c[2] or "none")
                                                                    for c in CASES])
def test_classify_wait_site(frames: list[str], reason: R, site: str) -> None:
    assert classify_wait_site(frames) == (reason, site)


def test_offsets_and_modules_are_ignored() -> None:
    assert classify_wait_site(["schedule+0x2c", "pipe_read+0x1a0"])[0] is R.PIPE_IPC
    assert classify_wait_site(["jbd2_log_wait_commit [jbd2]"])[0] is R.DISK_IO


@pytest.mark.parametrize(("wchan", "reason"), [
    ("do_nanosleep", R.SLEEP), ("futex_wait_queue", R.LOCK), ("pipe_read", R.PIPE_IPC),
    ("ep_poll", R.POLL), ("do_select", R.POLL), ("sk_wait_data", R.NETWORK),
    ("io_schedule", R.DISK_IO), ("0", R.OTHER), ("", R.OTHER),
])
def test_classify_wchan(wchan: str, reason: R) -> None:
    assert classify_wchan(wchan) is reason
