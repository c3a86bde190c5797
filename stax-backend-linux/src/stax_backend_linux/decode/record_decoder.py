"""PERF_RECORD_* bytes -> :mod:`stax.events` objects.

Layouts are the ones perf_event.h documents in ``enum perf_event_type`` for our
attr (perf_event_attr.SAMPLE_TYPE with ``sample_id_all``).  Every record starts
with ``struct perf_event_header {u32 type; u16 misc; u16 size}``; sizes are
multiples of 8, so a chunk can be read as one array of u64.  With sample_id_all
every non-sample record ends in ``struct sample_id`` = {u32 pid, tid; u64 time;
u32 cpu, res} for our sample_type, which is where their timestamp comes from.

When several events share one ring (off-CPU recording: the cpu-clock sampler, the
context-switch event and the sched_waking tracepoint), every event also has
PERF_SAMPLE_IDENTIFIER: a u64 event id leads each sample and ends each sample_id
trailer, and :meth:`RecordDecoder.register` says which id is which.  Context-switch
samples, PERF_RECORD_SWITCH(_CPU_WIDE) and sched_waking samples decode into the
backend-private records of :mod:`stax_backend_linux.off_cpu.records`.  staxd opens
those two for a user without kernel stacks without PERF_SAMPLE_IP (their IP is always a
kernel address, the scheduler's or the tracepoint's); ``register(..., sample_ip=False)``
says so, and their body is read 8 bytes earlier.

Each event's layout (which fields a sample and a sample_id trailer hold) comes from
its attr's sample_type, read_format and sample_id_all
(:mod:`~stax_backend_linux.decode.sample_layout`): ``stax record``'s events share one,
a perf.data file (:mod:`stax_backend_linux.perf_data`) brings one per attr.  A
sched:sched_switch tracepoint sample (perf record -e sched:sched_switch) decodes into
the same switch records, through :mod:`stax_backend_linux.off_cpu.sched_switch`.

Pure Python, kept tight: precompiled :class:`struct.Struct` unpackers, one u64
memoryview per chunk for callchains, no per-record helper objects.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

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
from stax_backend_linux.counters.decoder import PERF_RECORD_READ, CounterRead, decode_read_record
from stax_backend_linux.decode.sample_layout import LIVE, LIVE_SHARED, LIVE_SHARED_NO_IP, EventLayouts
from stax_backend_linux.decode.user_dump import UserDumpLayout
from stax_backend_linux.dwarf_callgraph.stack_sample import StackSample
from stax_backend_linux.off_cpu.records import SwitchRecord, SwitchStack, WakingRecord

if TYPE_CHECKING:
    from stax_backend_linux.decode.fast_decoder import FastScan
    from stax_backend_linux.off_cpu.sched_switch import SchedSwitchFormat

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
PERF_RECORD_SWITCH = 14  # per-task event: header + sample_id
PERF_RECORD_SWITCH_CPU_WIDE = 15  # CPU-wide event: header + u32 next_prev_pid, next_prev_tid + sample_id

# header.misc bits
PERF_RECORD_MISC_CPUMODE_MASK = 7
PERF_RECORD_MISC_KERNEL = 1
PERF_RECORD_MISC_COMM_EXEC = 1 << 13  # on COMM: the name changed because of exec
PERF_RECORD_MISC_MMAP_DATA = 1 << 13  # on MMAP*: a mapping without exec (attr.mmap_data: perf.data files)
PERF_RECORD_MISC_MMAP_BUILD_ID = 1 << 14  # on MMAP2: the union holds a build id, not maj/min/ino
PERF_RECORD_MISC_SWITCH_OUT = 1 << 13  # on SWITCH*: switching out (else in)
PERF_RECORD_MISC_SWITCH_OUT_PREEMPT = 1 << 14  # on SWITCH* out: the task was still runnable

# What a sample's event is (RecordDecoder.register): the default is an on-CPU sample.
KIND_SAMPLING = 0
KIND_SWITCH_STACK = 1
KIND_SCHED_WAKING = 2
KIND_SCHED_SWITCH = 3
"""The sched:sched_switch tracepoint (perf.data imports; Python decoder only)."""
KIND_SKIPPED = 4
"""An event whose samples are counted in ``skipped_samples``, not decoded (perf.data imports)."""
KIND_NO_IP = 0x100
"""Flag on a registered kind (fast_decode.c reads it too): that event's samples have no PERF_SAMPLE_IP."""

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
U32 = struct.Struct("<I")
I32 = struct.Struct("<i")

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
    ``identifier`` is True when every event in the ring has PERF_SAMPLE_IDENTIFIER.
    ``layouts`` replaces ``stax record``'s layout with other events' own (a perf.data file).
    """

    def __init__(self, build_id_lookup: BuildIdLookup | None = None, max_stack: int = 127,
                 identifier: bool = False, layouts: EventLayouts | None = None) -> None:
        self.build_id_lookup = build_id_lookup
        self.max_stack = max_stack
        self.identifier = identifier or (layouts is not None and layouts.id_word == 1)
        self.layouts = layouts or EventLayouts(LIVE_SHARED if identifier else LIVE)
        live = LIVE_SHARED if self.identifier else LIVE
        self.compiled_layout = (live.compiled() if layouts is None else layouts.compiled())
        """Where fast_decode.c finds the fields (one layout for every event), or None: it cannot."""
        self.kinds: dict[int, int] = {}
        """Event id -> kind; with samples that carry no id (one event), id 0 names them all."""
        self.without_ip: set[int] = set()
        """Registered event ids whose samples have no PERF_SAMPLE_IP."""
        self.waking_pid_offset = -1
        self.sched_switch: SchedSwitchFormat | None = None
        """Where the sched_switch tracepoint's fields are, for KIND_SCHED_SWITCH."""
        self.samples = 0
        self.switch_records = 0
        self.switch_stacks = 0
        self.wakings = 0
        self.lost_records = 0
        self.lost_samples = 0
        self.throttled = 0
        self.off_cpu_throttled = 0
        self.unknown_records = 0
        self.skipped_samples = 0
        self.dump: UserDumpLayout | None = None
        """Set when samples carry REGS_USER + STACK_USER (``--call-graph fp`` hybrid or ``dwarf``):
        cpu-clock samples decode into :class:`StackSample` records (unwound after capture) instead
        of :class:`Sample`, and switch-out samples into :class:`SwitchStack` with the dump."""
        self.counter_reads: list[CounterRead] | None = None
        """Set when counter groups share the rings: PERF_RECORD_READs are appended here."""
        from stax_backend_linux.decode import fast_decoder  # it imports this module

        self._fast: FastScan | None = fast_decoder.load()
        """The compiled scan (fast_decoder.py), or None: this module decodes everything."""

    def register(self, event_id: int, kind: int, waking_pid_offset: int = -1, sample_ip: bool = True) -> None:
        """Say that samples carrying PERF_SAMPLE_IDENTIFIER ``event_id`` are of ``kind``.

        ``waking_pid_offset`` (for KIND_SCHED_WAKING) is where the wakee's ``pid`` field
        sits in the tracepoint's raw record (tracefs ``format``).  ``sample_ip`` False: the
        event's sample_type lacks PERF_SAMPLE_IP (an off-CPU kind only).
        """
        if not self.layouts.id_word and (event_id or self.kinds):
            raise ValueError("event kinds need an event id (PERF_SAMPLE_IDENTIFIER or ID) in every sample")
        if not sample_ip and kind == KIND_SAMPLING:
            raise ValueError("on-CPU samples are decoded with their PERF_SAMPLE_IP")
        self.kinds[event_id] = kind
        if sample_ip:
            self.without_ip.discard(event_id)
        else:
            self.without_ip.add(event_id)
            self.layouts = self.layouts.with_layout(event_id, LIVE_SHARED_NO_IP)
        if kind == KIND_SCHED_WAKING:
            self.waking_pid_offset = waking_pid_offset

    @property
    def implementation(self) -> str:
        """"compiled" when fast_decode.c does the scan, "python" when this module does it all."""
        return "compiled" if self._fast is not None else "python"

    def decode(self, chunk: bytes) -> list[Event]:
        """Decode every record in ``chunk`` (whole records, as read from a ring)."""
        if self.scans_compiled:
            return self._fast.decode(self, chunk)  # type: ignore[union-attr]
        return self._decode_range(chunk, 0, len(chunk))

    @property
    def scans_compiled(self) -> bool:
        """fast_decode.c scans the chunks: it is loaded and reads every event's layout and kind."""
        return self._fast is not None and self.compiled_layout is not None and self._compiled_kinds()

    def _compiled_kinds(self) -> bool:
        """fast_decode.c tells events apart by their id and knows only the live kinds."""
        return (not self.kinds or bool(self.layouts.id_word)) and not {KIND_SCHED_SWITCH, KIND_SKIPPED} & set(
            self.kinds.values())

    def decode_python(self, chunk: bytes) -> list[Event]:
        """:meth:`decode` by this module alone: the reference the compiled scan is held to."""
        return self._decode_range(chunk, 0, len(chunk))

    def _decode_range(self, chunk: bytes, start: int, stop: int) -> list[Event]:
        """Decode the records from byte ``start`` up to ``stop`` (a record boundary or the end)."""
        out: list[Event] = []
        append = out.append
        end = len(chunk)
        if end & 7:
            end &= ~7  # records are u64-sized; a ragged tail cannot be a record
        words = memoryview(chunk)[:end].cast("Q")
        if stop < end:
            end = stop
        chains = _IPS_STRUCTS
        header_from = HEADER.unpack_from
        max_stack = self.max_stack
        ctx_user = PERF_CONTEXT_USER
        ctx_kernel = PERF_CONTEXT_KERNEL
        ctx_max = PERF_CONTEXT_MAX
        layouts = self.layouts
        sample_id = layouts.sample_id  # (chunk, record end) -> the trailer's pid, tid, time, cpu
        trailer = layouts.trailer_size
        id_word = layouts.id_word  # where a sample's event id is, in u64s from its start
        by_id = layouts.by_id
        sample_from = layouts.default.sample  # (chunk, off) -> ip, pid, tid, time, cpu, period, nr, at
        kinds = self.kinds
        dump = self.dump
        samples = 0
        off = start
        try:
            while off + 8 <= end:
                rtype, misc, size = header_from(chunk, off)
                if size < 8 or off + size > end:
                    break  # corrupt: stop rather than loop or read past the chunk
                if rtype == PERF_RECORD_SAMPLE:
                    event_id = words[(off >> 3) + id_word] if id_word else 0
                    layout = by_id.get(event_id) if by_id else None  # the event's own layout
                    ip, pid, tid, when, cpu, period, nr, at = (layout.sample if layout else sample_from)(
                        chunk, off)
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
                    if dump is not None:
                        kind = kinds.get(event_id, KIND_SAMPLING) if kinds else KIND_SAMPLING
                        if kind == KIND_SAMPLING:
                            append(StackSample(when, pid, tid, cpu, period, kernel, user,
                                               *dump.read(chunk, at + 8 * nr)))
                            samples += 1
                            off += size
                            continue
                        if kind == KIND_SWITCH_STACK:
                            if nr == 0:
                                kernel = user = ()
                            regs, stack = dump.read(chunk, at + 8 * nr)
                            append(SwitchStack(when, pid, tid, cpu, kernel, user, regs, stack))
                            self.switch_stacks += 1
                            off += size
                            continue
                    if not kinds:
                        append(Sample(when, pid, tid, cpu, period, kernel, user,
                                      len(kernel) + len(user) >= max_stack))
                        samples += 1
                    else:
                        kind = kinds.get(event_id, KIND_SAMPLING)
                        if kind == KIND_SAMPLING:
                            append(Sample(when, pid, tid, cpu, period, kernel, user,
                                          len(kernel) + len(user) >= max_stack))
                            samples += 1
                            off += size
                            continue
                        if kind == KIND_SKIPPED:
                            self.skipped_samples += 1
                            off += size
                            continue
                        if nr == 0:
                            kernel = user = ()  # no chain: the ip is the scheduler's, not a user frame
                        if kind == KIND_SWITCH_STACK:
                            append(SwitchStack(when, pid, tid, cpu, kernel, user))
                            self.switch_stacks += 1
                        elif kind == KIND_SCHED_SWITCH and self.sched_switch is not None:
                            out.extend(self.sched_switch.records(chunk, at + 8 * nr, off + size, when, pid,
                                                                 tid, cpu, kernel, user))
                            self.switch_stacks += 1
                            self.switch_records += 2
                        else:
                            append(self._waking(chunk, at + 8 * nr, off + size, when, cpu, pid, tid,
                                                kernel, user))
                elif rtype == PERF_RECORD_SWITCH or rtype == PERF_RECORD_SWITCH_CPU_WIDE:
                    pid, tid, when, cpu = sample_id(chunk, off + size)
                    out_ = bool(misc & PERF_RECORD_MISC_SWITCH_OUT)
                    append(SwitchRecord(when, pid, tid, cpu, out_,
                                        out_ and bool(misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT)))
                    self.switch_records += 1
                elif rtype == PERF_RECORD_MMAP2 or rtype == PERF_RECORD_MMAP:
                    if not misc & PERF_RECORD_MISC_MMAP_DATA:  # data holds no code: not an image
                        append(self._mmap(chunk, off, rtype, misc, size))
                elif rtype == PERF_RECORD_COMM:
                    pid, tid = PID_TID.unpack_from(chunk, off + 8)
                    raw = chunk[off + 16:off + size - trailer]
                    name = raw[: raw.find(b"\0")] if b"\0" in raw else raw
                    when = sample_id(chunk, off + size)[2]
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
                    _p, _t, when, cpu = sample_id(chunk, off + size)
                    self.lost_records += lost
                    append(LostNotice(when, cpu, LostKind.LOST_RECORDS, lost))
                elif rtype == PERF_RECORD_LOST_SAMPLES:
                    (lost,) = U64.unpack_from(chunk, off + 8)
                    _p, _t, when, cpu = sample_id(chunk, off + size)
                    self.lost_samples += lost
                    append(LostNotice(when, cpu, LostKind.LOST_SAMPLES, lost))
                elif rtype == PERF_RECORD_THROTTLE:
                    when, event_id = U64_PAIR.unpack_from(chunk, off + 8)  # time, id, stream_id
                    cpu = sample_id(chunk, off + size)[3]
                    if kinds and kinds.get(event_id, KIND_SAMPLING) != KIND_SAMPLING:
                        self.off_cpu_throttled += 1  # switch stacks or wakeups missing, not samples
                    else:
                        self.throttled += 1
                        append(LostNotice(when, cpu, LostKind.THROTTLED, 1))
                elif rtype == PERF_RECORD_READ and self.counter_reads is not None:
                    counter_read = decode_read_record(chunk, off, size, trailer)
                    if counter_read is not None:
                        self.counter_reads.append(counter_read)
                elif rtype != PERF_RECORD_UNTHROTTLE:
                    self.unknown_records += 1
                off += size
        finally:
            words.release()
        self.samples += samples
        return out

    def _waking(self, chunk: bytes, raw_at: int, end: int, when: int, cpu: int, pid: int, tid: int,
                kernel: tuple[int, ...], user: tuple[int, ...]) -> WakingRecord:
        """A sched_waking sample: PERF_SAMPLE_RAW {u32 size; char data[size]} follows the callchain."""
        (raw_size,) = U32.unpack_from(chunk, raw_at)
        at = self.waking_pid_offset
        wakee = -1
        if 0 <= at <= raw_size - 4 and raw_at + 8 + at <= end:
            (wakee,) = I32.unpack_from(chunk, raw_at + 4 + at)
        self.wakings += 1
        return WakingRecord(when, cpu, pid, tid, wakee, kernel, user)

    def _mmap(self, chunk: bytes, off: int, rtype: int, misc: int, size: int) -> ImageLoad:
        trailer = self.layouts.trailer_size
        pid, _tid, addr, length, pgoff = MMAP_BODY.unpack_from(chunk, off + 8)
        name_at = MMAP2_FILENAME_OFFSET if rtype == PERF_RECORD_MMAP2 else MMAP_FILENAME_OFFSET
        raw = chunk[off + name_at:off + size - trailer]
        nul = raw.find(b"\0")
        path = (raw[:nul] if nul >= 0 else raw).decode("utf-8", "surrogateescape")
        when = self.layouts.sample_id(chunk, off + size)[2]
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
