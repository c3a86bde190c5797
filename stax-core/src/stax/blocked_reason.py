"""Why a thread was off the CPU: one enum shared by every backend.

Linux derives it from the kernel wait-site frames (or /proc/<tid>/wchan), macOS
from the kdebug scheduler events; renderers colour and group by it.
"""

import enum


class BlockedReason(enum.StrEnum):
    """The buckets an off-CPU interval falls into."""

    SLEEP = "sleep"
    """nanosleep, clock_nanosleep, a timed wait with nothing else pending."""
    LOCK = "lock"
    """futex, mutex, rwsem and other lock waits."""
    DISK_IO = "disk-io"
    """Block-device reads and writes, page-cache fills, fsync."""
    NETWORK = "network"
    """Socket send/receive/accept/connect waits."""
    PIPE_IPC = "pipe-ipc"
    """Pipes, FIFOs, Unix-socket and other local IPC."""
    POLL = "poll"
    """poll, select, epoll_wait and friends: waiting on several sources."""
    PAGE_FAULT = "page-fault"
    """A fault that had to wait (swap-in, file-backed page)."""
    PREEMPTED = "preempted"
    """Runnable but switched out involuntarily: waiting for a CPU, never blocked time."""
    OTHER = "other"
    """Everything the wait site does not tell us."""
