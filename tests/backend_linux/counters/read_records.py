"""Synthesized counter-group bytes, laid out as perf_event.h documents them.

``struct read_format`` for PERF_FORMAT_GROUP|ID|TOTAL_TIME_ENABLED|TOTAL_TIME_RUNNING is
``u64 nr, time_enabled, time_running; {u64 value, id}[nr]``; a PERF_RECORD_READ is
``header, u32 pid, tid, read_format, sample_id`` with the sample_id_all trailer
``u32 pid, tid; u64 time; u32 cpu, res; [u64 id]`` (PERF_SAMPLE_IDENTIFIER last).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

PERF_RECORD_READ = 8


def group_read(enabled: int, running: int, values: Sequence[tuple[int, int]]) -> bytes:
    """A group leader's read(2) buffer; ``values`` are (value, id) pairs, leader first."""
    out = struct.pack("<QQQ", len(values), enabled, running)
    for value, event_id in values:
        out += struct.pack("<QQ", value, event_id)
    return out


def read_record(pid: int, tid: int, time: int, cpu: int, enabled: int, running: int,
                values: Sequence[tuple[int, int]], identifier: int | None = None) -> bytes:
    """One PERF_RECORD_READ with its sample_id trailer (and PERF_SAMPLE_IDENTIFIER if given)."""
    body = struct.pack("<II", pid, tid) + group_read(enabled, running, values)
    trailer = struct.pack("<IIQII", pid, tid, time, cpu, 0)
    if identifier is not None:
        trailer += struct.pack("<Q", identifier)
    size = 8 + len(body) + len(trailer)
    return struct.pack("<IHH", PERF_RECORD_READ, 0, size) + body + trailer
