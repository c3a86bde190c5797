"""Why a thread blocked on macOS: the system call or Mach trap it was in when it switched out.

Mach's wait events are opaque kernel addresses (MACH_WAIT arg1), and the kernel stack
at the block is only named where the kernel's symbols are, so the kdebug stream's
own answer is used instead: the BSD system call (DBG_BSD_EXCP_SC) or Mach trap
(DBG_MACH_EXCP_SC) the thread entered (START) and had not yet left (END) when the
scheduler switched it out, or a page fault in progress (MACH_vmfault).  The table
below maps those calls to :class:`~stax.blocked_reason.BlockedReason` buckets, in the
spirit of docs/blocked-reasons.md:

* lock: pthread mutex/condvar/rwlock waits (psynch_*), os_unfair_lock and friends
  (ulock_wait), POSIX and Mach semaphores;
* sleep: ``__semwait_signal`` (what nanosleep/usleep call), wait4/waitid, sigsuspend,
  clock_sleep_trap;
* poll: select, pselect, poll, kevent*, and ``workq_kernreturn`` (a dispatch worker
  parked until the next work item);
* network: socket receive, send, accept and connect calls;
* disk-io: fsync, fdatasync, pread/pwrite (offset I/O is file I/O);
* pipe-ipc: Mach message receive (mach_msg*, XPC and most of Apple's IPC), SysV
  message queues;
* page-fault: a fault being handled;
* other: read/write and everything else (read() of a pipe, a socket and a disk file
  look the same from here).

Numbers: bsd/kern/syscalls.master and osfmk/kern/syscall_sw.c (``xnu-11417.101.15``).
"""

from __future__ import annotations

from stax.blocked_reason import BlockedReason
from stax_backend_macos.kd_buf import KdRecord
from stax_backend_macos.kdebug_codes import (
    BSD_SYSCALL_CSC,
    DBG_FUNC_END,
    DBG_FUNC_START,
    KDBG_CSC_MASK,
    MACH_SYSCALL_CSC,
    MACH_VMFAULT,
)

LOCK, SLEEP, POLL = BlockedReason.LOCK, BlockedReason.SLEEP, BlockedReason.POLL
NETWORK, DISK_IO, PIPE_IPC = BlockedReason.NETWORK, BlockedReason.DISK_IO, BlockedReason.PIPE_IPC

BSD_SYSCALLS: dict[int, tuple[str, BlockedReason]] = {
    7: ("wait4", SLEEP), 400: ("wait4_nocancel", SLEEP),
    27: ("recvmsg", NETWORK), 401: ("recvmsg_nocancel", NETWORK),
    28: ("sendmsg", NETWORK), 402: ("sendmsg_nocancel", NETWORK),
    29: ("recvfrom", NETWORK), 403: ("recvfrom_nocancel", NETWORK),
    30: ("accept", NETWORK), 404: ("accept_nocancel", NETWORK),
    93: ("select", POLL), 407: ("select_nocancel", POLL),
    95: ("fsync", DISK_IO), 408: ("fsync_nocancel", DISK_IO),
    98: ("connect", NETWORK), 409: ("connect_nocancel", NETWORK),
    111: ("sigsuspend", SLEEP), 410: ("sigsuspend_nocancel", SLEEP),
    133: ("sendto", NETWORK), 413: ("sendto_nocancel", NETWORK),
    153: ("pread", DISK_IO), 414: ("pread_nocancel", DISK_IO),
    154: ("pwrite", DISK_IO), 415: ("pwrite_nocancel", DISK_IO),
    173: ("waitid", SLEEP), 416: ("waitid_nocancel", SLEEP),
    187: ("fdatasync", DISK_IO),
    230: ("poll", POLL), 417: ("poll_nocancel", POLL),
    256: ("semop", LOCK),
    260: ("msgsnd", PIPE_IPC), 261: ("msgrcv", PIPE_IPC),
    271: ("sem_wait", LOCK), 420: ("sem_wait_nocancel", LOCK),
    301: ("psynch_mutexwait", LOCK), 305: ("psynch_cvwait", LOCK),
    306: ("psynch_rw_rdlock", LOCK), 307: ("psynch_rw_wrlock", LOCK),
    334: ("__semwait_signal", SLEEP), 423: ("__semwait_signal_nocancel", SLEEP),
    363: ("kevent", POLL), 369: ("kevent64", POLL), 374: ("kevent_qos", POLL), 375: ("kevent_id", POLL),
    368: ("workq_kernreturn", POLL),
    394: ("pselect", POLL), 395: ("pselect_nocancel", POLL),
    515: ("ulock_wait", LOCK), 544: ("ulock_wait2", LOCK),
}
"""BSD system call number -> (name, bucket) for the calls that say why a thread waits."""

MACH_TRAPS: dict[int, tuple[str, BlockedReason]] = {
    31: ("mach_msg_trap", PIPE_IPC), 32: ("mach_msg_overwrite_trap", PIPE_IPC),
    47: ("mach_msg2_trap", PIPE_IPC),
    36: ("semaphore_wait_trap", LOCK), 37: ("semaphore_wait_signal_trap", LOCK),
    38: ("semaphore_timedwait_trap", LOCK), 39: ("semaphore_timedwait_signal_trap", LOCK),
    62: ("clock_sleep_trap", SLEEP),
}
"""Mach trap number (the positive index kdebug traces) -> (name, bucket)."""


def classify_call(kind: str, number: int) -> tuple[BlockedReason, str]:
    """(reason, wait site) for a thread blocked in BSD syscall / Mach trap ``number``."""
    table = BSD_SYSCALLS if kind == "bsd" else MACH_TRAPS
    found = table.get(number)
    if found is None:
        return BlockedReason.OTHER, f"{'syscall' if kind == 'bsd' else 'mach trap'} {number}"
    name, reason = found
    return reason, name


class CallTracker:
    """Which call (or page fault) each thread is inside, from the START/END events."""

    def __init__(self) -> None:
        self._calls: dict[int, tuple[str, int]] = {}
        self._faulting: set[int] = set()

    def feed(self, record: KdRecord, event_id: int) -> bool:
        """Follow one record; True if it was a call or fault event."""
        csc = event_id & KDBG_CSC_MASK
        func = record.debugid & (DBG_FUNC_START | DBG_FUNC_END)
        if csc == BSD_SYSCALL_CSC or csc == MACH_SYSCALL_CSC:
            number = (event_id & 0xFFFF) >> 2
            if func & DBG_FUNC_START:
                self._calls[record.tid] = ("bsd" if csc == BSD_SYSCALL_CSC else "mach", number)
            elif func & DBG_FUNC_END:
                self._calls.pop(record.tid, None)
            return True
        if event_id == MACH_VMFAULT:
            if func & DBG_FUNC_START:
                self._faulting.add(record.tid)
            elif func & DBG_FUNC_END:
                self._faulting.discard(record.tid)
            return True
        return False

    def reason(self, tid: int) -> tuple[BlockedReason, str]:
        """Why ``tid``, switching out now, is blocked: (reason, wait site)."""
        if tid in self._faulting:
            return BlockedReason.PAGE_FAULT, "vm_fault"
        call = self._calls.get(tid)
        if call is None:
            return BlockedReason.OTHER, ""
        return classify_call(*call)

    def forget(self, tid: int) -> None:
        self._calls.pop(tid, None)
        self._faulting.discard(tid)
