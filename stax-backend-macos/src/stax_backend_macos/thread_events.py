"""Threads and processes from the trace: the tid -> pid table and ThreadStart/Name/Exit events.

Sources, in the order they usually arrive: the thread map taken when tracing began
(``KERN_KDTHRMAP``, or the thread-map chunk of a ktrace file: every live thread with
its pid and process name), then DBG_TRACE events as things change:
TRACE_DATA_NEWTHREAD (the new tid, its pid; arg5 the creator) followed by the process
name in TRACE_STRING_NEWTHREAD, TRACE_DATA_EXEC + TRACE_STRING_EXEC (pid, new process
name, the exec'ing thread), TRACE_STRING_THREADNAME (pthread_setname_np, always the
thread's own name), TRACE_DATA_THREAD_TERMINATE (the tid that ended).  kperf's
PERF_TI_DATA also names (pid, tid) with every sample.
"""

from __future__ import annotations

from stax.events import Event, ThreadExit, ThreadName, ThreadStart
from stax_backend_macos.kd_buf import KdRecord, ThreadMapEntry, packed_string
from stax_backend_macos.kdebug_codes import (
    TRACE_DATA_EXEC,
    TRACE_DATA_NEWTHREAD,
    TRACE_DATA_THREAD_TERMINATE,
    TRACE_DATA_THREAD_TERMINATE_PID,
    TRACE_STRING_EXEC,
    TRACE_STRING_NEWTHREAD,
    TRACE_STRING_THREADNAME,
)
from stax_backend_macos.trace_strings import TraceStrings

KERNEL_TASK_PID = 0


class ThreadTable:
    """tid -> pid for every thread seen so far (shared by every part of the decoder)."""

    def __init__(self) -> None:
        self.pids: dict[int, int] = {}

    def pid(self, tid: int) -> int | None:
        return self.pids.get(tid)

    def note(self, tid: int, pid: int) -> None:
        if tid:
            self.pids[tid] = pid


class ThreadEvents:
    """Turns DBG_TRACE thread events into :mod:`stax.events`; ``clock`` converts ticks to ns."""

    def __init__(self, table: ThreadTable, strings: TraceStrings, clock) -> None:  # noqa: ANN001
        self.table = table
        self.strings = strings
        self.clock = clock
        self._created_by: dict[int, tuple[int, int]] = {}
        """creator tid -> (new tid, pid) until TRACE_STRING_NEWTHREAD names it."""
        self._exec_pid: dict[int, int] = {}

    def seed(self, entries: list[ThreadMapEntry], time: int) -> list[Event]:
        """The threads alive when tracing began, named after their process (``time`` in ns).

        The thread map's command is the process name, so it names the process too."""
        out: list[Event] = []
        for entry in entries:
            self.table.note(entry.tid, entry.pid)
            if entry.command:
                out.append(ThreadName(time, entry.pid, entry.tid, entry.command, process=True))
        return out

    def feed(self, record: KdRecord, event_id: int) -> list[Event]:
        time = self.clock(record.timestamp)
        table = self.table
        if event_id == TRACE_DATA_NEWTHREAD:
            tid, pid = record.arg1, record.arg2
            table.note(tid, pid)
            self._created_by[record.tid] = (tid, pid)
            creator_pid = table.pid(record.tid)
            return [ThreadStart(time, pid, tid, pid if creator_pid is None else creator_pid, record.tid)]
        if event_id == TRACE_STRING_NEWTHREAD:
            created = self._created_by.pop(record.tid, None)
            name = packed_string(record.arg1, record.arg2, record.arg3, record.arg4)
            if created is None or not name:
                return []
            return [ThreadName(time, created[1], created[0], name, process=True)]
        if event_id == TRACE_DATA_EXEC:
            table.note(record.tid, record.arg1)
            self._exec_pid[record.tid] = record.arg1
            return []
        if event_id == TRACE_STRING_EXEC:
            pid = self._exec_pid.pop(record.tid, None)
            if pid is None:
                pid = table.pid(record.tid)
            name = packed_string(record.arg1, record.arg2, record.arg3, record.arg4)
            if pid is None:
                return []
            return [ThreadName(time, pid, record.tid, name, is_exec=True, process=True)]
        if event_id == TRACE_STRING_THREADNAME:
            name = self.strings.feed(record, event_id)
            pid = table.pid(record.tid)
            if not name or pid is None:
                return []
            return [ThreadName(time, pid, record.tid, name)]
        if event_id == TRACE_DATA_THREAD_TERMINATE_PID:
            table.note(record.tid, record.arg1)
            return []
        if event_id == TRACE_DATA_THREAD_TERMINATE:
            pid = table.pid(record.arg1)
            return [] if pid is None else [ThreadExit(time, pid, record.arg1)]
        return []
