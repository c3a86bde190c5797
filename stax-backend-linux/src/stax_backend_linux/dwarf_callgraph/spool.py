"""An append-only temporary file of DWARF-mode samples, so capture memory stays bounded.

Unwinding is too slow to do while the target runs without stealing CPU from it, and
a sample's register dump and stack copy (up to 64 KiB) are too big to hold in memory
for a long recording.  So capture appends each :class:`StackSample` here (only the
stack bytes the kernel filled) and the unwind pass reads them back: in file order at
the end, or one process's samples at known offsets when its address space is about
to change.

Record: a fixed header (time, weight, pid, tid, cpu, kernel frame count, register
bytes, stack bytes), then the kernel ips, the raw register values and the stack.
The file is unlinked from creation (``tempfile.TemporaryFile``): nothing is left
behind if stax is killed.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterator

from stax_backend_linux.dwarf_callgraph.stack_sample import StackSample

_HEADER = struct.Struct("<QQiiIHHI4x")  # time, weight, pid, tid, cpu, n_kernel, regs_len, stack_len
HEADER_SIZE = _HEADER.size
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
        kernel = sample.kernel_ips
        regs = sample.regs
        stack = sample.stack
        header = _HEADER.pack(sample.time, sample.weight, sample.pid, sample.tid, sample.cpu,
                              len(kernel), len(regs), len(stack))
        offset = self.size
        write = self._file.write
        write(header)
        if kernel:
            write(struct.pack(f"<{len(kernel)}Q", *kernel))
        write(regs)
        write(stack)
        self.size += HEADER_SIZE + 8 * len(kernel) + len(regs) + len(stack)
        self.count += 1
        self.stack_bytes += len(stack)
        return offset

    def read_at(self, offset: int) -> StackSample:
        """The sample written at ``offset`` (flushes what is buffered first)."""
        self._file.flush()
        fd = self._file.fileno()
        header = os.pread(fd, HEADER_SIZE, offset)
        _t, _w, _p, _tid, _c, n_kernel, regs_len, stack_len = _HEADER.unpack(header)
        body = os.pread(fd, 8 * n_kernel + regs_len + stack_len, offset + HEADER_SIZE)
        return _decode(header + body, 0)[0]

    def replay(self) -> Iterator[tuple[int, StackSample]]:
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
    _t, _w, _p, _tid, _c, n_kernel, regs_len, stack_len = _HEADER.unpack_from(buffer, pos)
    return HEADER_SIZE + 8 * n_kernel + regs_len + stack_len


def _decode(buffer: bytes, pos: int) -> tuple[StackSample, int]:
    time, weight, pid, tid, cpu, n_kernel, regs_len, stack_len = _HEADER.unpack_from(buffer, pos)
    at = pos + HEADER_SIZE
    kernel = struct.unpack_from(f"<{n_kernel}Q", buffer, at) if n_kernel else ()
    at += 8 * n_kernel
    regs = buffer[at:at + regs_len]
    at += regs_len
    stack = buffer[at:at + stack_len]
    return StackSample(time, pid, tid, cpu, weight, kernel, regs, stack), at + stack_len
