"""An append-only temporary file of samples and off-CPU spans with user dumps: capture memory stays bounded.

Unwinding is too slow to do while the target runs without stealing CPU from it, and
a sample's register dump and stack copy (up to 64 KiB) are too big to hold in memory
for a long recording.  So capture appends each :class:`StackSample` and each
:class:`~stax_backend_linux.off_cpu.records.DumpedInterval` here (only the stack bytes the
kernel filled) and the unwind pass reads them back: in file order at
the end, or one process's samples at known offsets when its address space is about
to change.

Record: a fixed header (time, weight, pid, tid, cpu, kernel and user frame counts,
register bytes, kind, stack bytes), for an off-CPU interval (kind 1) a second header
(end, waker tid, reason, wait-site length) and the wait site, then the kernel ips,
the user ips (the kernel's frame-pointer walk, hybrid mode), the raw register values
and the stack.  The file is unlinked from creation (``tempfile.TemporaryFile``):
nothing is left behind if stax is killed.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterator

from stax.blocked_reason import BlockedReason
from stax.events import OffCpuInterval
from stax_backend_linux.dwarf_callgraph.stack_sample import StackSample
from stax_backend_linux.off_cpu.records import DumpedInterval

# time, weight, pid, tid, cpu, n_kernel, n_user, regs_len, kind, stack_len
_HEADER = struct.Struct("<QQiiiHHHHI")  # cpu signed: -1 when a perf.data file has no PERF_SAMPLE_CPU
HEADER_SIZE = _HEADER.size
_INTERVAL = struct.Struct("<QqHH4x")  # end, waker tid (-1: none), reason index, wait-site bytes
KIND_SAMPLE = 0
KIND_INTERVAL = 1
REASONS = tuple(BlockedReason)
_REASON_INDEX = {reason: index for index, reason in enumerate(REASONS)}

SpoolRecord = StackSample | DumpedInterval
WRITE_BUFFER = 1 << 20
READ_CHUNK = 4 << 20


class StackSampleSpool:
    """Samples written during capture, read back by the unwind pass."""

    def __init__(self, directory: str | None = None) -> None:
        self._file = tempfile.TemporaryFile(prefix="stax-dwarf-", suffix=".spool", dir=directory,
                                            buffering=WRITE_BUFFER)
        self.size = 0
        """Bytes written so far (also the offset of the next record)."""
        self.count = 0
        self.stack_bytes = 0

    def write(self, sample: StackSample) -> int:
        """Append one sample; returns its offset for :meth:`read_at`."""
        return self._append(sample.time, sample.weight, sample.pid, sample.tid, sample.cpu, KIND_SAMPLE, b"",
                            sample.kernel_ips, sample.user_ips, sample.regs, sample.stack)

    def write_interval(self, record: DumpedInterval) -> int:
        """Append one off-CPU interval with its dump; returns its offset for :meth:`read_at`."""
        i = record.interval
        site = i.wait_site.encode("utf-8", "surrogateescape")[:0xFFFF]
        extra = _INTERVAL.pack(i.end, -1 if i.waker_tid is None else i.waker_tid, _REASON_INDEX[i.reason],
                               len(site)) + site
        return self._append(i.start, 0, i.pid, i.tid, i.cpu, KIND_INTERVAL, extra, i.kernel_ips, i.user_ips,
                            record.regs, record.stack)

    def _append(self, time: int, weight: int, pid: int, tid: int, cpu: int, kind: int, extra: bytes,
                kernel: tuple[int, ...], user: tuple[int, ...], regs: bytes, stack: bytes) -> int:
        offset = self.size
        write = self._file.write
        write(_HEADER.pack(time, weight, pid, tid, cpu, len(kernel), len(user), len(regs), kind, len(stack)))
        if extra:
            write(extra)
        if kernel or user:
            write(struct.pack(f"<{len(kernel) + len(user)}Q", *kernel, *user))
        write(regs)
        write(stack)
        self.size += HEADER_SIZE + len(extra) + 8 * (len(kernel) + len(user)) + len(regs) + len(stack)
        self.count += 1
        self.stack_bytes += len(stack)
        return offset

    def read_at(self, offset: int) -> SpoolRecord:
        """The record written at ``offset`` (flushes what is buffered first)."""
        self._file.flush()
        fd = self._file.fileno()
        head = os.pread(fd, HEADER_SIZE, offset)
        if _HEADER.unpack(head)[8] == KIND_INTERVAL:
            head += os.pread(fd, _INTERVAL.size, offset + HEADER_SIZE)
        body = os.pread(fd, _record_size(head, 0) - len(head), offset + len(head))
        return _decode(head + body, 0)[0]

    def replay(self) -> Iterator[tuple[int, SpoolRecord]]:
        """Every (offset, sample) in the order written; reads in large chunks."""
        self._file.flush()
        fd = self._file.fileno()
        start = 0  # file offset of buffer[0]
        buffer = b""
        pos = 0
        end = self.size
        while start + pos < end:
            need = _record_size(buffer, pos)
            if len(buffer) - pos < need:
                start += pos
                buffer = buffer[pos:]
                pos = 0
                more = os.pread(fd, max(READ_CHUNK, need), start + len(buffer))
                if not more:
                    raise OSError(f"the DWARF sample spool ends inside a record at offset {start}")
                buffer += more
                continue
            sample, next_pos = _decode(buffer, pos)
            yield start + pos, sample
            pos = next_pos

    def close(self) -> None:
        self._file.close()


def _record_size(buffer: bytes, pos: int) -> int:
    if len(buffer) - pos < HEADER_SIZE:
        return HEADER_SIZE
    _t, _w, _p, _tid, _c, n_kernel, n_user, regs_len, kind, stack_len = _HEADER.unpack_from(buffer, pos)
    size = HEADER_SIZE + 8 * (n_kernel + n_user) + regs_len + stack_len
    if kind == KIND_INTERVAL:
        if len(buffer) - pos < HEADER_SIZE + _INTERVAL.size:
            return HEADER_SIZE + _INTERVAL.size
        size += _INTERVAL.size + _INTERVAL.unpack_from(buffer, pos + HEADER_SIZE)[3]
    return size


def _decode(buffer: bytes, pos: int) -> tuple[SpoolRecord, int]:
    fields = _HEADER.unpack_from(buffer, pos)
    time, weight, pid, tid, cpu, n_kernel, n_user, regs_len, kind, stack_len = fields
    at = pos + HEADER_SIZE
    if kind == KIND_INTERVAL:
        end, waker, reason, site_len = _INTERVAL.unpack_from(buffer, at)
        at += _INTERVAL.size
        site = buffer[at:at + site_len].decode("utf-8", "surrogateescape")
        at += site_len
    ips = struct.unpack_from(f"<{n_kernel + n_user}Q", buffer, at) if n_kernel or n_user else ()
    at += 8 * (n_kernel + n_user)
    regs = buffer[at:at + regs_len]
    at += regs_len
    stack = buffer[at:at + stack_len]
    kernel, user = ips[:n_kernel], ips[n_kernel:]
    if kind == KIND_INTERVAL:
        interval = OffCpuInterval(time, end, pid, tid, cpu, REASONS[reason], site, kernel, user,
                                  None if waker < 0 else waker)
        return DumpedInterval(interval, regs, stack), at + stack_len
    return StackSample(time, pid, tid, cpu, weight, kernel, user, regs, stack), at + stack_len
