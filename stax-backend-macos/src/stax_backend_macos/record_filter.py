"""Keep only the records that concern the processes a client may trace (staxd, before streaming).

kdebug traces every process (the type filter is per class, not per process), so
staxd passes a non-root client only the records about its granted processes: events
traced by one of their threads (arg5), context switches onto one of them (arg2),
wakeups and dispatches of one of them (arg1), their threads' creation and end, and
trace-buffer losses.  Processes they fork are theirs too (TRACE_DATA_NEWTHREAD of a
new pid by one of their threads).  The thread map is cut the same way.  Pure: tested
on Linux with synthesized records.
"""

from __future__ import annotations

import struct

from stax_backend_macos.kd_buf import ThreadMapEntry, thread_map
from stax_backend_macos.kdebug_codes import (
    KD_BUF_SIZE,
    KDBG_EVENTID_MASK,
    MACH_DISPATCH,
    MACH_MAKE_RUNNABLE,
    MACH_SCHED,
    MACH_STACK_HANDOFF,
    PERF_TI_DATA,
    TRACE_DATA_EXEC,
    TRACE_DATA_NEWTHREAD,
    TRACE_DATA_THREAD_TERMINATE,
    TRACE_LOST_EVENTS,
)

_RECORD = struct.Struct("<QQQQQQIIQ")


class RecordFilter:
    """Follows which threads belong to ``pids`` and drops every other process's records."""

    def __init__(self, pids: set[int], threads: list[ThreadMapEntry]) -> None:
        self.pids = set(pids)
        self.tids = {e.tid for e in threads if e.pid in self.pids}
        self.dropped = 0

    @classmethod
    def for_map(cls, pids: set[int], map_bytes: bytes) -> tuple[RecordFilter, bytes]:
        """The filter and the thread map cut to ``pids`` (kd_threadmap entries of 32 bytes)."""
        entries = thread_map(map_bytes)
        kept = b"".join(struct.pack("<Qi20s", e.tid, e.pid, e.command.encode()[:19]) for e in entries
                        if e.pid in pids)
        return cls(pids, entries), kept

    def filter(self, data: bytes) -> bytes:
        """The records of ``data`` (whole kd_bufs) that concern the granted processes."""
        out = bytearray()
        tids, pids = self.tids, self.pids
        whole = len(data) - len(data) % KD_BUF_SIZE
        for offset in range(0, whole, KD_BUF_SIZE):
            _ts, a1, a2, _a3, _a4, tid, debugid, _cpu, _ = _RECORD.unpack_from(data, offset)
            event = debugid & KDBG_EVENTID_MASK
            keep = tid in tids
            if event == TRACE_DATA_NEWTHREAD:
                if a2 in pids or (tid in tids and a2 not in pids):  # a thread of theirs, or their fork
                    pids.add(a2)
                    tids.add(a1)
                    keep = True
            elif event == PERF_TI_DATA and a1 in pids:
                tids.add(a2)
            elif event == TRACE_DATA_EXEC and tid in tids:
                pids.add(a1)
            elif event in (MACH_SCHED, MACH_STACK_HANDOFF):
                keep = keep or a2 in tids
            elif event in (MACH_MAKE_RUNNABLE, MACH_DISPATCH):
                keep = keep or a1 in tids
            elif event == TRACE_DATA_THREAD_TERMINATE:
                keep = a1 in tids
            elif event == TRACE_LOST_EVENTS:
                keep = True
            if keep:
                out += data[offset: offset + KD_BUF_SIZE]
            else:
                self.dropped += 1
        return bytes(out)
