"""PERF_RECORD_* bytes -> :mod:`stax.events` objects.

Layouts are the ones perf_event.h documents in ``enum perf_event_type`` for our
attr (perf_event_attr.SAMPLE_TYPE with ``sample_id_all``).  Every record starts
with ``struct perf_event_header {u32 type; u16 misc; u16 size}``; sizes are
multiples of 8, so a chunk can be read as one array of u64.  With sample_id_all
every non-sample record ends in ``struct sample_id`` = {u32 pid, tid; u64 time;
u32 cpu, res} for our sample_type, which is where their timestamp comes from.

Pure Python, kept tight: precompiled :class:`struct.Struct` unpackers, one u64
memoryview per chunk for callchains, no per-record helper objects.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from stax.events import (
    Event,
    ImageKind,
    ImageLoad,
    LostKind,
    LostNotice,
    Sample,
    ThreadExit,
    ThreadName,
    ThreadStart,
)

# enum perf_event_type
PERF_RECORD_MMAP = 1
PERF_RECORD_LOST = 2
PERF_RECORD_COMM = 3
PERF_RECORD_EXIT = 4
PERF_RECORD_THROTTLE = 5
PERF_RECORD_UNTHROTTLE = 6
PERF_RECORD_FORK = 7
PERF_RECORD_SAMPLE = 9
PERF_RECORD_MMAP2 = 10
PERF_RECORD_LOST_SAMPLES = 13

# header.misc bits
PERF_RECORD_MISC_CPUMODE_MASK = 7
PERF_RECORD_MISC_KERNEL = 1
PERF_RECORD_MISC_COMM_EXEC = 1 << 13  # on COMM: the name changed because of exec
PERF_RECORD_MISC_MMAP_BUILD_ID = 1 << 14  # on MMAP2: the union holds a build id, not maj/min/ino

# enum perf_callchain_context: markers inside a callchain saying which part follows.
PERF_CONTEXT_HV = 2**64 - 32
PERF_CONTEXT_KERNEL = 2**64 - 128
PERF_CONTEXT_USER = 2**64 - 512
PERF_CONTEXT_GUEST = 2**64 - 2048
PERF_CONTEXT_GUEST_KERNEL = 2**64 - 2176
PERF_CONTEXT_GUEST_USER = 2**64 - 2560
PERF_CONTEXT_MAX = 2**64 - 4095  # anything >= this is a marker, not an address

HEADER = struct.Struct("<IHH")
# SAMPLE body for IP|TID|TIME|CPU|PERIOD|CALLCHAIN: ip; pid, tid; time; cpu, res; period; nr
SAMPLE_BODY = struct.Struct("<QIIQI4xQQ")
SAMPLE_IPS_OFFSET = 8 + SAMPLE_BODY.size  # 56: ips[nr] follow
SAMPLE_ID = struct.Struct("<IIQI4x")  # the sample_id_all trailer: pid, tid, time, cpu
TRAILER = SAMPLE_ID.size  # 24
MMAP_BODY = struct.Struct("<IIQQQ")  # pid, tid, addr, len, pgoff
MMAP2_BUILD_ID_SIZE_OFFSET = 8 + MMAP_BODY.size  # u8 build_id_size, then 3 reserved bytes
MMAP2_BUILD_ID_OFFSET = MMAP2_BUILD_ID_SIZE_OFFSET + 4  # u8 build_id[20]
MMAP2_FILENAME_OFFSET = 8 + MMAP_BODY.size + 24 + 8  # after the 24-byte union and prot, flags
MMAP_FILENAME_OFFSET = 8 + MMAP_BODY.size
PID_TID = struct.Struct("<II")
TASK_BODY = struct.Struct("<IIIIQ")  # FORK/EXIT: pid, ppid, tid, ptid, time
U64 = struct.Struct("<Q")
U64_PAIR = struct.Struct("<QQ")

ANON_PATH = "//anon"
VDSO_PATH = "[vdso]"

BuildIdLookup = Callable[[str], "bytes | None"]

_IPS_STRUCTS: dict[int, struct.Struct] = {}


def _ips(count: int) -> struct.Struct:
    """The (cached) unpacker for ``count`` u64 callchain entries."""
    unpacker = _IPS_STRUCTS.get(count)
    if unpacker is None:
        unpacker = _IPS_STRUCTS[count] = struct.Struct(f"<{count}Q")
    return unpacker


def image_kind(path: str) -> tuple[ImageKind, str]:
    """Classify a mapping by the name the kernel (or /proc/PID/maps) gives it."""
    if not path or path == ANON_PATH or path.startswith("[anon:") or path.startswith("//anon"):
        return ImageKind.JIT, path or ANON_PATH
    if path == VDSO_PATH:
        return ImageKind.VDSO, VDSO_PATH
    if path.startswith("[") or path.startswith("//"):
        return ImageKind.UNKNOWN, path  # [heap], [stack], [vsyscall], //toolong
    return ImageKind.ELF, path


def split_callchain(chain: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Split a raw callchain (leaf first, with context markers) into (kernel_ips, user_ips).

    Addresses after PERF_CONTEXT_KERNEL are kernel frames, after PERF_CONTEXT_USER user
    frames; hypervisor and guest parts are dropped.  Markers never appear in the output.
    """
    kernel: list[int] = []
    user: list[int] = []
    target: list[int] | None = None
    for ip in chain:
        if ip >= PERF_CONTEXT_MAX:
            target = kernel if ip == PERF_CONTEXT_KERNEL else user if ip == PERF_CONTEXT_USER else None
        elif target is not None:
            target.append(ip)
    return tuple(kernel), tuple(user)


class RecordDecoder:
    """Decodes chunks of records from one ring; keeps counts across chunks.

    ``build_id_lookup`` is asked for the build id of a file-backed MMAP2 the kernel
    reported without one (it only reads build ids from pages already in memory).
    ``max_stack`` is kernel.perf_event_max_stack: a stack that long was cut short.
    """

    def __init__(self, build_id_lookup: BuildIdLookup | None = None, max_stack: int = 127) -> None:
        self.build_id_lookup = build_id_lookup
        self.max_stack = max_stack
        self.samples = 0
        self.lost_records = 0
        self.lost_samples = 0
        self.throttled = 0
        self.unknown_records = 0

    def decode(self, chunk: bytes) -> list[Event]:
        """Decode every record in ``chunk`` (whole records, as read from a ring)."""
        out: list[Event] = []
        append = out.append
        end = len(chunk)
        if end & 7:
            end &= ~7  # records are u64-sized; a ragged tail cannot be a record
        words = memoryview(chunk)[:end].cast("Q")
        chains = _IPS_STRUCTS
        header_from = HEADER.unpack_from
        sample_from = SAMPLE_BODY.unpack_from
        max_stack = self.max_stack
        ctx_user = PERF_CONTEXT_USER
        ctx_kernel = PERF_CONTEXT_KERNEL
        ctx_max = PERF_CONTEXT_MAX
        samples = 0
        off = 0
        try:
            while off + 8 <= end:
                rtype, misc, size = header_from(chunk, off)
                if size < 8 or off + size > end:
                    break  # corrupt: stop rather than loop or read past the chunk
                if rtype == PERF_RECORD_SAMPLE:
                    ip, pid, tid, when, cpu, period, nr = sample_from(chunk, off + 8)
                    at = off + SAMPLE_IPS_OFFSET
                    if nr == 0:
                        kernel: tuple[int, ...] = ()
                        user: tuple[int, ...] = (ip,) if ip < ctx_max else ()
                    else:
                        head = words[at >> 3]
                        # get_perf_callchain() stores at most one KERNEL then one USER marker, each
                        # followed only by addresses; guest/hypervisor chains start with another
                        # marker and take the general path.
                        if head == ctx_user:  # the common user-only chain: [USER, ips...]
                            kernel = ()
                            user = (chains.get(nr - 1) or _ips(nr - 1)).unpack_from(chunk, at + 8)
                        else:
                            chain = (chains.get(nr) or _ips(nr)).unpack_from(chunk, at)
                            if head == ctx_kernel:  # [KERNEL, kips..., USER, uips...]
                                try:
                                    u = chain.index(ctx_user)
                                except ValueError:
                                    kernel, user = chain[1:], ()
                                else:
                                    kernel, user = chain[1:u], chain[u + 1:]
                            else:
                                kernel, user = split_callchain(chain)
                    append(Sample(when, pid, tid, cpu, period, kernel, user,
                                  len(kernel) + len(user) >= max_stack))
                    samples += 1
                elif rtype == PERF_RECORD_MMAP2 or rtype == PERF_RECORD_MMAP:
                    append(self._mmap(chunk, off, rtype, misc, size))
                elif rtype == PERF_RECORD_COMM:
                    pid, tid = PID_TID.unpack_from(chunk, off + 8)
                    raw = chunk[off + 16:off + size - TRAILER]
                    name = raw[: raw.find(b"\0")] if b"\0" in raw else raw
                    when = SAMPLE_ID.unpack_from(chunk, off + size - TRAILER)[2]
                    append(ThreadName(when, pid, tid, name.decode("utf-8", "replace"),
                                      bool(misc & PERF_RECORD_MISC_COMM_EXEC)))
                elif rtype == PERF_RECORD_FORK:
                    pid, ppid, tid, ptid, when = TASK_BODY.unpack_from(chunk, off + 8)
                    append(ThreadStart(when, pid, tid, ppid, ptid))
                elif rtype == PERF_RECORD_EXIT:
                    pid, _ppid, tid, _ptid, when = TASK_BODY.unpack_from(chunk, off + 8)
                    append(ThreadExit(when, pid, tid))
                elif rtype == PERF_RECORD_LOST:
                    _id, lost = U64_PAIR.unpack_from(chunk, off + 8)
                    _p, _t, when, cpu = SAMPLE_ID.unpack_from(chunk, off + size - TRAILER)
                    self.lost_records += lost
                    append(LostNotice(when, cpu, LostKind.LOST_RECORDS, lost))
                elif rtype == PERF_RECORD_LOST_SAMPLES:
                    (lost,) = U64.unpack_from(chunk, off + 8)
                    _p, _t, when, cpu = SAMPLE_ID.unpack_from(chunk, off + size - TRAILER)
                    self.lost_samples += lost
                    append(LostNotice(when, cpu, LostKind.LOST_SAMPLES, lost))
                elif rtype == PERF_RECORD_THROTTLE:
                    (when,) = U64.unpack_from(chunk, off + 8)
                    cpu = SAMPLE_ID.unpack_from(chunk, off + size - TRAILER)[3]
                    self.throttled += 1
                    append(LostNotice(when, cpu, LostKind.THROTTLED, 1))
                elif rtype != PERF_RECORD_UNTHROTTLE:
                    self.unknown_records += 1
                off += size
        finally:
            words.release()
        self.samples += samples
        return out

    def _mmap(self, chunk: bytes, off: int, rtype: int, misc: int, size: int) -> ImageLoad:
        pid, _tid, addr, length, pgoff = MMAP_BODY.unpack_from(chunk, off + 8)
        name_at = MMAP2_FILENAME_OFFSET if rtype == PERF_RECORD_MMAP2 else MMAP_FILENAME_OFFSET
        raw = chunk[off + name_at:off + size - TRAILER]
        nul = raw.find(b"\0")
        path = (raw[:nul] if nul >= 0 else raw).decode("utf-8", "surrogateescape")
        when = SAMPLE_ID.unpack_from(chunk, off + size - TRAILER)[2]
        if misc & PERF_RECORD_MISC_CPUMODE_MASK == PERF_RECORD_MISC_KERNEL:
            return ImageLoad(when, -1, addr, addr + length, pgoff, path, ImageKind.KERNEL)
        kind, path = image_kind(path)
        build_id: bytes | None = None
        if rtype == PERF_RECORD_MMAP2 and misc & PERF_RECORD_MISC_MMAP_BUILD_ID:
            n = min(chunk[off + MMAP2_BUILD_ID_SIZE_OFFSET], 20)
            build_id = chunk[off + MMAP2_BUILD_ID_OFFSET:off + MMAP2_BUILD_ID_OFFSET + n] or None
        elif kind is ImageKind.ELF and self.build_id_lookup is not None:
            build_id = self.build_id_lookup(path)
        if kind is ImageKind.JIT:
            pgoff = 0  # anonymous memory has no file offset; the kernel reports vm_pgoff
        return ImageLoad(when, pid, addr, addr + length, pgoff, path, kind, build_id)
