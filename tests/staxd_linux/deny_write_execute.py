"""Exec a command with memory-deny-write-execute, as the unit's MemoryDenyWriteExecute=yes runs staxd.

systemd enforces that setting with a seccomp filter; the kernel's own form,
prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN) (Linux 6.3+), refuses the same thing (a
mapping both writable and executable, or made executable after being writable),
is inherited across execve, and needs no systemd.  So a daemon started through
this script proves the unit's setting does not break it (cffi, ctypes, Python).
Usage: python deny_write_execute.py PROGRAM ARG...
"""

import ctypes
import errno
import os
import sys

PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1

libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
    sys.exit(f"prctl(PR_SET_MDWE) failed: {os.strerror(ctypes.get_errno())}")  # EINVAL: kernel < 6.3
os.execvp(sys.argv[1], sys.argv[1:])
