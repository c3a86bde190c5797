"""Counter-group bytes -> values: a group leader's read(2) buffer and PERF_RECORD_READ records.

Both carry ``struct read_format`` for PERF_FORMAT_GROUP|ID|TOTAL_TIME_ENABLED|
TOTAL_TIME_RUNNING (perf_event.h)::

    u64 nr; u64 time_enabled; u64 time_running; { u64 value; u64 id; } values[nr];

A PERF_RECORD_READ (type 8) is ``header, u32 pid, tid, read_format, sample_id``: the
kernel writes it for an ``inherit_stat`` event when the inherited thread exits
(sync_child_event -> perf_event_read_event), with that thread's own values.

Multiplexing: when more events are asked for than the PMU has counters, the kernel
rotates groups and a group only counts while it is on the PMU; ``time_running`` is
that time and ``time_enabled`` the time it was wanted.  :func:`scaled` estimates the
full count as ``value * time_enabled / time_running`` (what perf stat prints), and 0
when the group never ran.  A group counts as a unit, so one ratio scales all members.

A thread has one group per CPU (stax_binfmt.perf_counters).  Each of them reports the thread's
whole enabled time as ``time_enabled`` but runs only while the thread is on its CPU,
so a single per-CPU read looks multiplexed when it is not: :func:`combine` sums a
thread's per-CPU reads first and scales once, by ``time_enabled / sum(time_running)``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping

import attrs

PERF_RECORD_READ = 8
_U64 = struct.Struct("<Q")
_HEAD = struct.Struct("<QQQ")  # nr, time_enabled, time_running
_PID_TID = struct.Struct("<II")
_SAMPLE_ID = struct.Struct("<IIQI4x")  # the sample_id_all trailer for TID|TIME|CPU: pid, tid, time, cpu


@attrs.frozen(slots=True)
class GroupRead:
    """One ``struct read_format`` of a group: the times and each member's (kernel id, raw value)."""

    time_enabled: int
    time_running: int
    values: tuple[tuple[int, int], ...]

    @property
    def multiplexed(self) -> bool:
        return 0 < self.time_running < self.time_enabled

    def scaled_by_id(self) -> dict[int, int]:
        """Kernel event id -> value scaled by time_enabled / time_running (see the module doc)."""
        enabled, running = self.time_enabled, self.time_running
        return {event_id: scaled(value, enabled, running) for event_id, value in self.values}


@attrs.frozen(slots=True)
class CounterRead:
    """A PERF_RECORD_READ: the values of an inherited thread's group when it exited.

    Backend-private, like the off-CPU records: :mod:`stax_backend_linux.counters.capture`
    turns them into :class:`stax.events.CounterValues`.
    """

    time: int
    pid: int
    tid: int
    cpu: int
    read: GroupRead


def scaled(value: int, time_enabled: int, time_running: int) -> int:
    """The count estimated over the whole enabled time (perf's scaling for multiplexed events)."""
    if time_running <= 0:
        return 0
    if time_running >= time_enabled:
        return value
    return round(value * time_enabled / time_running)


def parse_group_read(data: bytes, offset: int = 0) -> tuple[GroupRead, int]:
    """Parse one GROUP|ID|TOTAL_TIME_ENABLED|TOTAL_TIME_RUNNING read_format at ``offset``.

    Returns the read and the offset just past it.  Raises ValueError when ``data`` is
    shorter than ``nr`` says.
    """
    if offset + _HEAD.size > len(data):
        raise ValueError(f"a group read needs at least {_HEAD.size} bytes, got {len(data) - offset}")
    nr, enabled, running = _HEAD.unpack_from(data, offset)
    end = offset + _HEAD.size + 16 * nr
    if end > len(data):
        raise ValueError(f"a group read of {nr} counters needs {end - offset} bytes, "
                         f"got {len(data) - offset}")
    words = struct.unpack_from(f"<{2 * nr}Q", data, offset + _HEAD.size)
    values = tuple((words[i + 1], words[i]) for i in range(0, 2 * nr, 2))  # (id, value)
    return GroupRead(enabled, running, values), end


def decode_read_record(chunk: bytes, off: int, size: int, trailer: int) -> CounterRead | None:
    """A PERF_RECORD_READ at ``off`` (``size`` bytes, ``trailer`` = its sample_id size); None if malformed.

    The time and CPU come from the sample_id trailer (``sample_id_all``); its first 24
    bytes are pid, tid, time, cpu whatever follows (PERF_SAMPLE_IDENTIFIER adds a u64).
    """
    try:
        pid, tid = _PID_TID.unpack_from(chunk, off + 8)
        read, end = parse_group_read(chunk, off + 16)
        if end > off + size - trailer:
            return None
        _pid, _tid, when, cpu = _SAMPLE_ID.unpack_from(chunk, off + size - trailer)
    except (ValueError, struct.error):
        return None
    return CounterRead(when, pid, tid, cpu, read)


def combine(reads: Iterable[GroupRead], key_of: Mapping[int, str]) -> dict[str, int]:
    """The scaled totals (counter key -> value) of one thread's (or tree's) per-CPU group reads.

    Raw values are summed per key (``key_of`` maps kernel ids to keys; other ids are
    ignored), running times are summed, and the enabled time is the largest one seen
    (every per-CPU group of a thread reports the same); then one ratio scales them all.
    """
    values: dict[str, int] = {}
    enabled = running = 0
    for read in reads:
        enabled = max(enabled, read.time_enabled)
        running += read.time_running
        for event_id, value in read.values:
            key = key_of.get(event_id)
            if key is not None:
                values[key] = values.get(key, 0) + value
    return {key: scaled(value, enabled, min(running, enabled) if running else 0)
            for key, value in values.items()}
