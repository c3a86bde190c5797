"""kdebug through sysctl: set up the trace buffer, filter by class, enable, drain, tear down.

MIB ``{CTL_KERN, KERN_KDEBUG, op[, value]}`` (bsd/kern/kdebug.c ``kdbg_control``).
Order (macos-notes.md): reset (KERN_KDENABLE 0, KERN_KDREMOVE), KERN_KDSETBUF (record
count), KERN_KDSETUP, KERN_KDSET_TYPEFILTER (one bit per class/subclass),
KERN_KDENABLE 1; drain with KERN_KDBUFWAIT then KERN_KDREADTR (bytes in, records
out); KERN_KDTHRMAP for the threads alive at the start.  Only uid 0 may own ktrace
on release kernels, so this runs in staxd or as root.  :func:`typefilter` is pure
and tested on Linux; the rest has NEVER RUN ON A MAC.
"""

from __future__ import annotations

from collections.abc import Iterable

from stax.errors import CaptureError
from stax_backend_macos import darwin_ffi
from stax_backend_macos.kdebug_codes import (
    CTL_KERN,
    DBG_BSD,
    DBG_BSD_EXCP_SC,
    DBG_DYLD,
    DBG_DYLD_UUID,
    DBG_MACH,
    DBG_MACH_EXCP_SC,
    DBG_MACH_SCHED,
    DBG_MACH_VM,
    DBG_PERF,
    DBG_TRACE,
    KD_BUF_SIZE,
    KD_THREADMAP_SIZE,
    KERN_KDBUFWAIT,
    KERN_KDEBUG,
    KERN_KDENABLE,
    KERN_KDREADTR,
    KERN_KDREMOVE,
    KERN_KDSET_TYPEFILTER,
    KERN_KDSETBUF,
    KERN_KDSETUP,
    KERN_KDTHRMAP,
    TYPEFILTER_BYTES,
)

ALL_SUBCLASSES = -1


def trace_classes(off_cpu: bool) -> list[tuple[int, int]]:
    """(class, subclass) pairs a recording needs; subclass -1 is every subclass of the class.

    kperf's samples and the trace system's own events always; with off-CPU time also the
    scheduler, the system-call and trap events that name a wait, and VM events (page faults).
    """
    pairs = [(DBG_PERF, ALL_SUBCLASSES), (DBG_TRACE, ALL_SUBCLASSES), (DBG_DYLD, DBG_DYLD_UUID)]
    if off_cpu:
        pairs += [(DBG_MACH, DBG_MACH_SCHED), (DBG_MACH, DBG_MACH_EXCP_SC), (DBG_MACH, DBG_MACH_VM),
                  (DBG_BSD, DBG_BSD_EXCP_SC)]
    return pairs


def typefilter(pairs: Iterable[tuple[int, int]]) -> bytes:
    """The 8192-byte bitmap: bit ``class << 8 | subclass`` set for each pair (setbit of sys/param.h)."""
    bits = bytearray(TYPEFILTER_BYTES)
    for klass, subclass in pairs:
        for sub in range(256) if subclass == ALL_SUBCLASSES else (subclass,):
            index = (klass << 8) | sub
            bits[index // 8] |= 1 << (index % 8)
    return bytes(bits)


def _sysctl(op: int, value: int | None = None, buffer=None, size: int = 0) -> int:  # noqa: ANN001
    """One kdebug sysctl; returns the size (or count) the kernel wrote back."""
    lib = darwin_ffi.libsystem()
    ffi = darwin_ffi.ffi
    mib = ffi.new("int[4]", [CTL_KERN, KERN_KDEBUG, op, value or 0])
    length = ffi.new("size_t *", size)
    if lib.sysctl(mib, 3 if value is None else 4, buffer if buffer is not None else ffi.NULL, length,
                  ffi.NULL, 0) != 0:
        err = ffi.errno
        if err == 16:  # EBUSY
            raise CaptureError("Another tool owns kernel tracing (Instruments, ktrace or spindump); stop it"
                               " and record again.")
        if err in (1, 13):  # EPERM, EACCES
            raise CaptureError("Kernel tracing needs root on macOS; run `sudo stax setup` once to install"
                               " staxd.")
        raise CaptureError(f"The kdebug sysctl {op} failed with errno {err}.")
    return int(length[0])


def reset() -> None:
    """Disable and free any trace buffer (also what a crashed previous owner left behind)."""
    _sysctl(KERN_KDENABLE, 0)
    _sysctl(KERN_KDREMOVE)


def setup(records: int, pairs: Iterable[tuple[int, int]]) -> None:
    _sysctl(KERN_KDSETBUF, records)
    _sysctl(KERN_KDSETUP)
    bitmap = darwin_ffi.ffi.from_buffer(bytearray(typefilter(pairs)))
    _sysctl(KERN_KDSET_TYPEFILTER, None, bitmap, TYPEFILTER_BYTES)


def enable(on: bool) -> None:
    _sysctl(KERN_KDENABLE, 1 if on else 0)


def wait(timeout_ms: int) -> None:
    """Block until the buffer is half full or ``timeout_ms`` passes."""
    _sysctl(KERN_KDBUFWAIT, timeout_ms)


def read_records(buffer: bytearray) -> bytes:
    """Drain what the kernel holds into ``buffer``; the bytes of the records read."""
    view = darwin_ffi.ffi.from_buffer(buffer)
    count = _sysctl(KERN_KDREADTR, None, view, len(buffer))
    return bytes(buffer[: count * KD_BUF_SIZE])


def read_thread_map(max_threads: int = 1 << 16) -> bytes:
    buffer = bytearray(max_threads * KD_THREADMAP_SIZE)
    view = darwin_ffi.ffi.from_buffer(buffer)
    size = _sysctl(KERN_KDTHRMAP, None, view, len(buffer))
    return bytes(buffer[:size])
