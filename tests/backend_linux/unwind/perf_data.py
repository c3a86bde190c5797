"""A minimal reader of ``perf.data`` files: attributes, MMAP/MMAP2 and SAMPLE records.

Only what the unwinder tests need: the registers and stack copy of each sample
(PERF_SAMPLE_REGS_USER, PERF_SAMPLE_STACK_USER) and the executable mappings.  The
layout is perf's (``tools/perf/Documentation/perf.data-file-format.txt``) and the
kernel's (perf_event_open(2), "MMAP events", "PERF_RECORD_SAMPLE").
"""

from __future__ import annotations

import struct
from pathlib import Path

import attrs

PERF_RECORD_MMAP = 1
PERF_RECORD_SAMPLE = 9
PERF_RECORD_MMAP2 = 10
PERF_RECORD_MISC_MMAP_BUILD_ID = 1 << 14
PERF_RECORD_MISC_MMAP_DATA = 1 << 13
PROT_EXEC = 4

# sample_type bits, in the order their fields appear in a sample record
SAMPLE_IDENTIFIER = 1 << 16
SAMPLE_IP = 1 << 0
SAMPLE_TID = 1 << 1
SAMPLE_TIME = 1 << 2
SAMPLE_ADDR = 1 << 3
SAMPLE_READ = 1 << 4
SAMPLE_CALLCHAIN = 1 << 5
SAMPLE_ID = 1 << 6
SAMPLE_CPU = 1 << 7
SAMPLE_PERIOD = 1 << 8
SAMPLE_STREAM_ID = 1 << 9
SAMPLE_RAW = 1 << 10
SAMPLE_BRANCH_STACK = 1 << 11
SAMPLE_REGS_USER = 1 << 12
SAMPLE_STACK_USER = 1 << 13
_SUPPORTED = (
    SAMPLE_IDENTIFIER | SAMPLE_IP | SAMPLE_TID | SAMPLE_TIME | SAMPLE_ADDR | SAMPLE_CALLCHAIN | SAMPLE_ID
    | SAMPLE_CPU | SAMPLE_PERIOD | SAMPLE_STREAM_ID | SAMPLE_REGS_USER | SAMPLE_STACK_USER
    | (1 << 14) | (1 << 15)  # WEIGHT, DATA_SRC: after the stack, not read
)  # fmt: skip


@attrs.frozen
class PerfMapping:
    pid: int
    start: int
    end: int
    file_offset: int
    path: str


@attrs.frozen
class PerfSample:
    pid: int
    tid: int
    time: int
    ip: int
    regs_values: tuple[int, ...]
    stack: bytes


@attrs.frozen
class PerfData:
    sample_regs_user: int
    mappings: list[PerfMapping]
    samples: list[PerfSample]


def read_perf_data(path: Path) -> PerfData:
    data = path.read_bytes()
    if data[:8] != b"PERFILE2":
        raise ValueError(f"{path} is not a perf.data file")
    _, attr_size = struct.unpack_from("<QQ", data, 8)
    attrs_offset, attrs_size, data_offset, data_size = struct.unpack_from("<QQQQ", data, 24)
    if attrs_size != attr_size:
        raise ValueError("this reader handles one event attribute")
    sample_type, _read_format = struct.unpack_from("<QQ", data, attrs_offset + 24)
    sample_regs_user = struct.unpack_from("<Q", data, attrs_offset + 80)[0]
    if sample_type & ~_SUPPORTED:
        raise ValueError(f"unsupported sample_type {sample_type:#x}")
    nregs = bin(sample_regs_user).count("1")
    mappings: list[PerfMapping] = []
    samples: list[PerfSample] = []
    pos = data_offset
    end = data_offset + data_size
    while pos + 8 <= end:
        kind, misc, size = struct.unpack_from("<IHH", data, pos)
        if size == 0:
            break
        body = pos + 8
        if kind == PERF_RECORD_MMAP2:
            pid, _, addr, length, pgoff = struct.unpack_from("<IIQQQ", data, body)
            # then maj, min, ino, ino_generation (or a build id): 24 bytes; prot, flags; name
            prot = struct.unpack_from("<I", data, body + 56)[0]
            name = data[body + 64 : pos + size].split(b"\0", 1)[0].decode()
            if prot & PROT_EXEC:
                mappings.append(PerfMapping(pid, addr, addr + length, pgoff, name))
        elif kind == PERF_RECORD_MMAP and not misc & PERF_RECORD_MISC_MMAP_DATA:
            pid, _, addr, length, pgoff = struct.unpack_from("<IIQQQ", data, body)
            name = data[body + 32 : pos + size].split(b"\0", 1)[0].decode()
            mappings.append(PerfMapping(pid, addr, addr + length, pgoff, name))
        elif kind == PERF_RECORD_SAMPLE:
            samples.append(_sample(data, body, sample_type, nregs))
        pos += size
    return PerfData(sample_regs_user, mappings, samples)


def _sample(data: bytes, p: int, sample_type: int, nregs: int) -> PerfSample:
    ip = pid = tid = time = 0
    if sample_type & SAMPLE_IDENTIFIER:
        p += 8
    if sample_type & SAMPLE_IP:
        ip = struct.unpack_from("<Q", data, p)[0]
        p += 8
    if sample_type & SAMPLE_TID:
        pid, tid = struct.unpack_from("<II", data, p)
        p += 8
    if sample_type & SAMPLE_TIME:
        time = struct.unpack_from("<Q", data, p)[0]
        p += 8
    for bit in (SAMPLE_ADDR, SAMPLE_ID, SAMPLE_STREAM_ID, SAMPLE_CPU, SAMPLE_PERIOD):
        if sample_type & bit:  # each one u64 (CPU: u32 cpu + u32 reserved)
            p += 8
    if sample_type & SAMPLE_CALLCHAIN:
        count = struct.unpack_from("<Q", data, p)[0]
        p += 8 + 8 * count
    regs: tuple[int, ...] = ()
    if sample_type & SAMPLE_REGS_USER:
        abi = struct.unpack_from("<Q", data, p)[0]
        p += 8
        if abi:
            regs = struct.unpack_from(f"<{nregs}Q", data, p)
            p += 8 * nregs
    stack = b""
    if sample_type & SAMPLE_STACK_USER:
        size = struct.unpack_from("<Q", data, p)[0]
        p += 8
        if size:
            raw = data[p : p + size]
            dyn_size = struct.unpack_from("<Q", data, p + size)[0]
            stack = raw[:dyn_size]
    return PerfSample(pid, tid, time, ip, regs, stack)
