"""The profiled command, started suspended so tracing is on before its first instruction.

``posix_spawn`` with Apple's POSIX_SPAWN_START_SUSPENDED (0x0080, <spawn.h>) creates
the process stopped before it runs; stax starts tracing for its pid and then sends
SIGCONT.  Nothing of the command's start (dyld mapping its images) is missed, and an
exec failure comes back from posix_spawn itself.  NEVER RUN ON A MAC.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
from collections.abc import Sequence

from stax.errors import UsageError
from stax_backend_macos import darwin_ffi

POSIX_SPAWN_START_SUSPENDED = 0x0080


def spawn_suspended(argv: Sequence[str]) -> int:
    """Start ``argv`` stopped; its pid.  UsageError in one sentence when it cannot run."""
    if not argv:
        raise UsageError("No command given; put the program to profile after '--'.")
    path = shutil.which(argv[0])
    if path is None:
        raise UsageError(f"Command {argv[0]!r} not found; check the spelling or give its full path.")
    ffi, lib = darwin_ffi.ffi, darwin_ffi.libsystem()
    attr = ffi.new("posix_spawnattr_t *")
    lib.posix_spawnattr_init(attr)
    try:
        lib.posix_spawnattr_setflags(attr, POSIX_SPAWN_START_SUSPENDED)
        args = [ffi.new("char[]", a.encode()) for a in argv]
        env = [ffi.new("char[]", f"{k}={v}".encode()) for k, v in os.environ.items()]
        pid = ffi.new("int *")
        err = lib.posix_spawn(pid, path.encode(), ffi.NULL, attr, ffi.new("char *[]", [*args, ffi.NULL]),
                              ffi.new("char *[]", [*env, ffi.NULL]))
    finally:
        lib.posix_spawnattr_destroy(attr)
    if err:
        why = os.strerror(err) if err != errno.ENOEXEC else "not a program"
        raise UsageError(f"Cannot run {argv[0]!r} ({why});"
                         f" check that it is a program for this Mac and executable.")
    return int(pid[0])


def resume(pid: int) -> None:
    os.kill(pid, signal.SIGCONT)
