"""Synthesize PERF_RECORD_* bytes exactly as the kernel lays them out for stax's attr.

Layouts: perf_event.h, enum perf_event_type, for sample_type IP|TID|TIME|CPU|PERIOD|CALLCHAIN
with sample_id_all (every non-sample record ends in {u32 pid, tid; u64 time; u32 cpu, res}).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

MMAP, LOST, COMM, EXIT, THROTTLE, UNTHROTTLE, FORK = 1, 2, 3, 4, 5, 6, 7
SAMPLE, MMAP2, LOST_SAMPLES = 9, 10, 13
MISC_USER = 2
MISC_COMM_EXEC = 1 << 13
MISC_MMAP_BUILD_ID = 1 << 14
CONTEXT_KERNEL = 2**64 - 128
CONTEXT_USER = 2**64 - 512
CONTEXT_GUEST = 2**64 - 2048


def _record(rtype: int, misc: int, body: bytes) -> bytes:
    assert len(body) % 8 == 0
    return struct.pack("<IHH", rtype, misc, 8 + len(body)) + body


def _sample_id(pid: int, tid: int, time: int, cpu: int) -> bytes:
    return struct.pack("<IIQII", pid, tid, time, cpu, 0)


def _cstring(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return raw + b"\0" * (-len(raw) % 8)


def sample(ip: int, pid: int, tid: int, time: int, cpu: int, period: int, chain: Sequence[int]) -> bytes:
    body = struct.pack("<QIIQIIQQ", ip, pid, tid, time, cpu, 0, period, len(chain))
    return _record(SAMPLE, MISC_USER, body + struct.pack(f"<{len(chain)}Q", *chain))


def mmap2(pid: int, tid: int, addr: int, length: int, pgoff: int, filename: str, time: int, cpu: int,
          build_id: bytes | None = None) -> bytes:
    head = struct.pack("<IIQQQ", pid, tid, addr, length, pgoff)
    if build_id is None:
        union = struct.pack("<IIQQ", 8, 1, 123456, 0)  # maj, min, ino, ino_generation
        misc = MISC_USER
    else:
        union = struct.pack("<BBH20s", len(build_id), 0, 0, build_id)
        misc = MISC_USER | MISC_MMAP_BUILD_ID
    prot_flags = struct.pack("<II", 5, 2)  # PROT_READ|PROT_EXEC, MAP_PRIVATE
    tail = _cstring(filename) + _sample_id(pid, tid, time, cpu)
    return _record(MMAP2, misc, head + union + prot_flags + tail)


def mmap(pid: int, tid: int, addr: int, length: int, pgoff: int, filename: str, time: int, cpu: int) -> bytes:
    head = struct.pack("<IIQQQ", pid, tid, addr, length, pgoff)
    return _record(MMAP, MISC_USER, head + _cstring(filename) + _sample_id(pid, tid, time, cpu))


def comm(pid: int, tid: int, name: str, time: int, cpu: int, exec_: bool = False) -> bytes:
    body = struct.pack("<II", pid, tid) + _cstring(name) + _sample_id(pid, tid, time, cpu)
    return _record(COMM, MISC_COMM_EXEC if exec_ else 0, body)


def fork(pid: int, ppid: int, tid: int, ptid: int, time: int, cpu: int) -> bytes:
    body = struct.pack("<IIIIQ", pid, ppid, tid, ptid, time)
    return _record(FORK, 0, body + _sample_id(pid, tid, time, cpu))


def exit_(pid: int, ppid: int, tid: int, ptid: int, time: int, cpu: int) -> bytes:
    body = struct.pack("<IIIIQ", pid, ppid, tid, ptid, time)
    return _record(EXIT, 0, body + _sample_id(pid, tid, time, cpu))


def lost(count: int, time: int, cpu: int, event_id: int = 7) -> bytes:
    return _record(LOST, 0, struct.pack("<QQ", event_id, count) + _sample_id(0, 0, time, cpu))


def lost_samples(count: int, time: int, cpu: int) -> bytes:
    return _record(LOST_SAMPLES, 0, struct.pack("<Q", count) + _sample_id(0, 0, time, cpu))


def throttle(time: int, cpu: int, unthrottle: bool = False, event_id: int = 7) -> bytes:
    body = struct.pack("<QQQ", time, event_id, event_id) + _sample_id(0, 0, time, cpu)
    return _record(UNTHROTTLE if unthrottle else THROTTLE, 0, body)


# -- rings shared by several events: every event has PERF_SAMPLE_IDENTIFIER ---------------------
# A sample starts with the u64 event id; every sample_id trailer ends with it.

SWITCH, SWITCH_CPU_WIDE = 14, 15
MISC_SWITCH_OUT = 1 << 13
MISC_SWITCH_OUT_PREEMPT = 1 << 14


def _sample_id_ident(pid: int, tid: int, time: int, cpu: int, ident: int) -> bytes:
    return struct.pack("<IIQIIQ", pid, tid, time, cpu, 0, ident)


def ident_sample(ident: int, ip: int, pid: int, tid: int, time: int, cpu: int, period: int,
                 chain: Sequence[int], raw: bytes | None = None) -> bytes:
    """A sample of IDENTIFIER|IP|TID|TIME|CPU|PERIOD|CALLCHAIN[|RAW] (RAW: u32 size + data, padded)."""
    body = struct.pack("<QQIIQIIQQ", ident, ip, pid, tid, time, cpu, 0, period, len(chain))
    body += struct.pack(f"<{len(chain)}Q", *chain)
    if raw is not None:
        blob = struct.pack("<I", len(raw)) + raw
        body += blob + b"\0" * (-len(blob) % 8)
    return _record(SAMPLE, 1, body)


def switch(pid: int, tid: int, time: int, cpu: int, out: bool, preempt: bool = False, ident: int = 0,
           cpu_wide_next: tuple[int, int] | None = None) -> bytes:
    """PERF_RECORD_SWITCH (or _CPU_WIDE with the next/prev pid, tid) with an identifier trailer."""
    misc = (MISC_SWITCH_OUT if out else 0) | (MISC_SWITCH_OUT_PREEMPT if preempt else 0)
    trailer = _sample_id_ident(pid, tid, time, cpu, ident)
    if cpu_wide_next is None:
        return _record(SWITCH, misc, trailer)
    return _record(SWITCH_CPU_WIDE, misc, struct.pack("<II", *cpu_wide_next) + trailer)


def ident_comm(pid: int, tid: int, name: str, time: int, cpu: int, ident: int = 0) -> bytes:
    return _record(COMM, 0, struct.pack("<II", pid, tid) + _cstring(name)
                   + _sample_id_ident(pid, tid, time, cpu, ident))


def sched_waking_raw(wakee: int, comm: str = "wakee", prio: int = 120, target_cpu: int = 1,
                     common_pid: int = 0) -> bytes:
    """The sched_waking record as tracefs 'format' lays it out on 6.x (pid at offset 24)."""
    return struct.pack("<HBBi16siii", 375, 0, 0, common_pid, comm.encode(), wakee, prio, target_cpu)
