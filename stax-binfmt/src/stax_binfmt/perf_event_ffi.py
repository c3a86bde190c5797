"""cffi bindings for perf_event_open(2) and its ioctls, in ABI mode.

The declarations live in ``perf_event.h`` beside this file; :func:`ffi` takes them
pre-parsed from ``_perf_event_cffi.py`` (cffi's out-of-line ABI mode, written by
``perf_event_ffi_build``; no pycparser at run time) while that matches the header, else
parses the header, and opens libc with ``dlopen(None)``, so installing needs no C compiler.  Each
call has one thin wrapper that turns a failure into :class:`PerfEventError`
carrying the errno and what we were doing.
"""

from __future__ import annotations

import errno
import os
import platform
from functools import cache
from typing import TYPE_CHECKING, Any

from stax_binfmt import perf_event_ffi_build

if TYPE_CHECKING:
    import cffi

# perf_event_open has no glibc wrapper; these are the syscall numbers from
# asm/unistd_64.h (x86-64) and asm-generic/unistd.h (arm64).
_SYSCALL_NUMBERS = {"x86_64": 298, "aarch64": 241, "arm64": 241}

# ioctl request numbers, from the _IO/_IOR macros in <linux/perf_event.h>.
PERF_EVENT_IOC_ENABLE = 0x2400  # _IO('$', 0)
PERF_EVENT_IOC_DISABLE = 0x2401  # _IO('$', 1)
PERF_EVENT_IOC_SET_OUTPUT = 0x2405  # _IO('$', 5)
PERF_EVENT_IOC_SET_FILTER = 0x40082406  # _IOW('$', 6, char *)
PERF_EVENT_IOC_ID = 0x80082407  # _IOR('$', 7, __u64 *)
PERF_EVENT_IOC_SET_BPF = 0x40042408  # _IOW('$', 8, __u32)

# perf_event_open flags.  FD_CLOEXEC keeps event fds out of programs we exec.
PERF_FLAG_FD_CLOEXEC = 1 << 3


class PerfEventError(OSError):
    """A perf_event_open or ioctl call failed; ``errno`` says why, ``context`` what we tried."""

    def __init__(self, err: int, context: str) -> None:
        super().__init__(err, f"{context}: {os.strerror(err)}")
        self.context = context


@cache
def ffi() -> cffi.FFI:
    """The FFI with perf_event.h declared: the pre-parsed module's, or parsed once per process."""
    text = perf_event_ffi_build.header_text()
    from stax_binfmt import _perf_event_cffi as prebuilt

    if prebuilt.HEADER_SHA256 == perf_event_ffi_build.header_sha256(text):
        return prebuilt.ffi
    import cffi

    instance = cffi.FFI()
    instance.cdef(text)
    return instance


@cache
def _libc() -> Any:
    return ffi().dlopen(None)


def syscall_number() -> int:
    """perf_event_open's number on this machine's architecture."""
    machine = platform.machine()
    try:
        return _SYSCALL_NUMBERS[machine]
    except KeyError:
        raise PerfEventError(errno.ENOSYS, f"perf_event_open on {machine}") from None


def raise_errno(context: str) -> None:
    """Raise the errno cffi saved from the last call, labelled with ``context``."""
    raise PerfEventError(ffi().errno or errno.EIO, context)


def perf_event_open(attr: Any, pid: int, cpu: int, group_fd: int = -1, flags: int = PERF_FLAG_FD_CLOEXEC,
                    ) -> int:
    """perf_event_open(attr, pid, cpu, group_fd, flags) -> fd.

    ``pid`` 0 means this thread, -1 every task (with ``cpu`` >= 0); ``cpu`` -1 means any CPU.
    Variadic arguments are passed as ``long`` because syscall(2) reads every argument as one.
    """
    f = ffi()
    fd = _libc().syscall(
        f.cast("long", syscall_number()), attr, f.cast("long", pid), f.cast("long", cpu),
        f.cast("long", group_fd), f.cast("unsigned long", flags),
    )
    if fd < 0:
        raise_errno(f"perf_event_open(pid={pid}, cpu={cpu})")
    return int(fd)


def _ioctl(fd: int, request: int, arg: Any, what: str) -> int:
    result = _libc().ioctl(fd, ffi().cast("unsigned long", request), arg)
    if result < 0:
        raise_errno(what)
    return int(result)


def enable(fd: int) -> None:
    """PERF_EVENT_IOC_ENABLE: start counting/sampling."""
    _ioctl(fd, PERF_EVENT_IOC_ENABLE, ffi().cast("long", 0), "PERF_EVENT_IOC_ENABLE")


def disable(fd: int) -> None:
    """PERF_EVENT_IOC_DISABLE: stop counting/sampling (records already written stay)."""
    _ioctl(fd, PERF_EVENT_IOC_DISABLE, ffi().cast("long", 0), "PERF_EVENT_IOC_DISABLE")


def set_output(fd: int, target_fd: int) -> None:
    """PERF_EVENT_IOC_SET_OUTPUT: write ``fd``'s records into ``target_fd``'s ring buffer.

    The kernel requires both events on the same CPU and clock, and ``fd`` not mmapped.
    """
    _ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, ffi().cast("long", target_fd), "PERF_EVENT_IOC_SET_OUTPUT")


def event_id(fd: int) -> int:
    """PERF_EVENT_IOC_ID: the kernel's id for this event (as used in LOST/THROTTLE records)."""
    out = ffi().new("uint64_t *")
    _ioctl(fd, PERF_EVENT_IOC_ID, out, "PERF_EVENT_IOC_ID")
    return int(out[0])
