"""Classify an off-CPU wait site into a :class:`~stax.blocked_reason.BlockedReason`.

Input is the kernel part of the stack at switch-out, leaf first (``__schedule``,
``schedule``, ``pipe_read``, ``vfs_read``, ...), or the single function that
``/proc/<tid>/wchan`` reports while the thread is parked.  Both backends and the
macOS kdebug path share the buckets; the table below is the documented mapping
(docs/blocked-reasons.md) and is unit-tested.

Rules, in order:
1. If any frame is a page-fault entry (``exc_page_fault``, ``do_user_addr_fault``,
   ``handle_mm_fault``), the wait is a **page fault**, whatever it waited on.
2. Otherwise walk the frames leaf first, skipping the generic scheduler frames
   (``schedule*``, ``__schedule``, ``preempt_schedule*``, ``finish_task_switch``);
   the first frame that matches a pattern below decides.
3. Nothing matches: **other**.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stax.blocked_reason import BlockedReason

PAGE_FAULT_FRAMES = re.compile(r"^(exc_page_fault|do_user_addr_fault|handle_mm_fault|__handle_mm_fault"
                               r"|do_page_fault|asm_exc_page_fault)$")

GENERIC_FRAMES = re.compile(
    r"^(__schedule|schedule|schedule_preempt_disabled|preempt_schedule\w*|finish_task_switch\w*"
    r"|__traceiter_\w+|perf_\w+|context_switch|__switch_to\w*)$"
)

# (bucket, pattern) in priority order for a single frame; module suffixes like
# " [ext4]" are stripped before matching.
RULES: tuple[tuple[BlockedReason, re.Pattern[str]], ...] = (
    (BlockedReason.POLL, re.compile(
        r"^(ep_poll|do_epoll_wait|do_sys_poll|do_poll|do_select|core_sys_select"
        r"|__x64_sys_(e?poll\w*|p?select\w*))$")),
    (BlockedReason.LOCK, re.compile(
        r"^(futex_\w+|__futex_\w+|do_futex|rwsem_down_\w+|__mutex_lock\w*|mutex_lock\w*"
        r"|rt_mutex_\w+|__rt_mutex\w*|down_read\w*|down_write\w*|__down\w*|percpu_rwsem_wait"
        r"|flock_lock_\w+|locks_lock_\w+|fcntl_setlk|__x64_sys_flock)$")),
    (BlockedReason.PIPE_IPC, re.compile(
        r"^((anon_)?pipe_read|(anon_)?pipe_write|pipe_wait\w*|wait_for_partner|fifo_open|unix_stream_\w+"
        r"|unix_dgram_\w+|unix_wait_for_peer|unix_accept|do_msgrcv|do_msgsnd|do_semtimedop"
        r"|mqueue_\w+|wq_sleep|binder_\w+|n_tty_read|tty_\w+)$")),
    (BlockedReason.NETWORK, re.compile(
        r"^(sk_wait_data|sk_stream_wait_\w+|__skb_wait_for_more_packets|__skb_recv_\w+"
        r"|inet_csk_accept|inet_csk_wait_for_connect|inet_wait_for_connect|__inet_stream_connect"
        r"|tcp_\w+|udp\w*_recvmsg|sock_\w+|__sys_(recv\w*|send\w*|accept\w*|connect)"
        r"|wait_woken_sock|sk_wait_\w+|netlink_\w+)$")),
    (BlockedReason.DISK_IO, re.compile(
        r"^(io_schedule\w*|bit_wait_io\w*|folio_wait_\w+|__folio_lock\w*|wait_on_page_\w+"
        r"|__lock_page\w*|__wait_on_buffer|wait_on_buffer|submit_bio_wait|blk_\w+|bio_\w+"
        r"|filemap_\w+|jbd2_\w+|ext4_\w+|xfs_\w+|btrfs_\w+|file_fdatawait\w*|__filemap_fdatawait\w*"
        r"|do_fsync|vfs_fsync\w*|__x64_sys_f(data)?sync|nfs_\w+|iomap_\w+|blkdev_\w+)$")),
    (BlockedReason.SLEEP, re.compile(
        r"^(do_nanosleep|hrtimer_nanosleep|common_nsleep\w*|__x64_sys_(clock_)?nanosleep"
        r"|msleep\w*|usleep_range\w*|__x64_sys_pause|sigsuspend|__x64_sys_rt_sigsuspend"
        r"|do_sigtimedwait|__x64_sys_rt_sigtimedwait|do_wait|kernel_wait4|__x64_sys_wait4"
        r"|__do_sys_wait4|kernel_waitid)$")),
)


def classify_wait_site(kernel_frames_leaf_first: Iterable[str]) -> tuple[BlockedReason, str]:
    """Return (reason, the frame that decided it — '' when none did)."""
    names = [name.split(" [", 1)[0].split("+", 1)[0] for name in kernel_frames_leaf_first if name]
    for name in names:
        if PAGE_FAULT_FRAMES.match(name):
            return BlockedReason.PAGE_FAULT, name
    for name in names:
        if GENERIC_FRAMES.match(name):
            continue
        for reason, pattern in RULES:
            if pattern.match(name):
                return reason, name
    return BlockedReason.OTHER, ""


def classify_wchan(wchan: str) -> BlockedReason:
    """Classify the single function ``/proc/<tid>/wchan`` reports ('0' or '' means running)."""
    if not wchan or wchan == "0":
        return BlockedReason.OTHER
    return classify_wait_site([wchan])[0]
