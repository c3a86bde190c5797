"""What /proc and /sys list about this machine: online CPUs, a process's threads, sysctl numbers.

Small readers shared by capture and staxd, which must agree on them (staxd opens one
event per online CPU the client maps a ring for; both read the same sysctls).
"""

from __future__ import annotations

import os

ONLINE_CPUS = "/sys/devices/system/cpu/online"


def online_cpus(path: str = ONLINE_CPUS) -> list[int]:
    """CPU numbers from /sys/devices/system/cpu/online (e.g. "0-3,6")."""
    try:
        with open(path) as f:
            spec = f.read().strip()
    except OSError:
        return list(range(os.cpu_count() or 1))
    cpus: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def thread_ids(pid: int) -> list[int]:
    """Every thread of ``pid`` right now (empty if it is gone or not readable)."""
    try:
        return sorted(int(name) for name in os.listdir(f"/proc/{pid}/task") if name.isdigit())
    except OSError:
        return []


def read_int(path: str, default: int) -> int:
    """The first number in a /proc or /sys file (a sysctl), or ``default`` if unreadable."""
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return default


PF_KTHREAD = 0x00200000
"""``task_struct.flags`` bit of a kernel thread (include/linux/sched.h), field 9 of /proc/PID/stat."""


def kernel_thread_name(pid: int) -> str | None:
    """The name of ``pid`` if it is a kernel thread (it has no user space), else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    name_end = text.rfind(")")  # the name itself may hold spaces and parentheses
    fields = text[name_end + 2:].split()
    try:
        flags = int(fields[6])  # after the name: state ppid pgrp session tty_nr tpgid flags
    except (IndexError, ValueError):
        return None
    return text[text.find("(") + 1:name_end] if flags & PF_KTHREAD else None


def thread_group(tid: int) -> int | None:
    """The process (thread group id) thread ``tid`` belongs to, from /proc/TID/status; None if gone."""
    try:
        with open(f"/proc/{tid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"Tgid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None
