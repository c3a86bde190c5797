"""How the profiled command ended, in the shell's words: its exit status, or the signal that killed it.

``stax record -- CMD`` exits with CMD's status, as ``perf record`` does, so a script that
profiles a test run still sees it fail: the status itself when CMD exited, 128 + N when
signal N killed it (what a shell reports: 139 for SIGSEGV).  Both backends turn the
``waitpid`` status into these numbers here, so they agree.
"""

from __future__ import annotations

import os
import signal

SIGNAL_BASE = 128
"""A shell reports death by signal N as exit status 128 + N."""


def exit_code(wait_status: int) -> int:
    """The shell's exit status for a ``waitpid`` status: the code, or 128 + N for signal N."""
    if os.WIFSIGNALED(wait_status):
        return SIGNAL_BASE + os.WTERMSIG(wait_status)
    return os.waitstatus_to_exitcode(wait_status)


def killed_by(wait_status: int) -> int | None:
    """The signal that ended the process, or None if it exited."""
    return os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else None


def signal_name(signum: int) -> str:
    """``SIGSEGV`` for 11; ``signal 64`` for a number without a name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
