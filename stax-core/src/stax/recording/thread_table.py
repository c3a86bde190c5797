"""The processes and threads of a recording, followed from the event stream.

Names, parents, start and end times come from :class:`~stax.events.ThreadName`,
:class:`~stax.events.ThreadStart` and :class:`~stax.events.ThreadExit`; a thread that
only ever shows up in a sample starts at its first sample.  A thread or process
without a name yet takes its parent's (a fork keeps the parent's comm until it execs).
The whole table is small and rewritten at every commit
(:class:`stax.recording.sqlite_writer.RecordingFile`).

It also keeps the uids each process was seen running as (``/proc/PID/status`` when it
first appears, at each exec, and at the end if it still runs): symbol sources trust a
process's perf map or jitdump only when one of them owns it (stax.trusted_files).
"""

from __future__ import annotations

from stax.events import ThreadExit, ThreadName, ThreadStart
from stax.trusted_files import process_uids


class ThreadTable:
    """``threads[(pid, tid)]`` and ``processes[pid]``: dicts of the columns of their tables."""

    def __init__(self) -> None:
        self.threads: dict[tuple[int, int], dict[str, object]] = {}
        self.processes: dict[int, dict[str, object]] = {}
        self.owners: dict[int, set[int]] = {}
        """The uids each process was seen running as: who may own its perf map or jitdump."""

    def process(self, pid: int) -> dict[str, object]:
        proc = self.processes.get(pid)
        if proc is None:
            proc = {"parent_pid": None, "name": None, "command_line": None,
                    "start_time": None, "end_time": None}
            self.processes[pid] = proc
            self.note_owners(pid)
        return proc

    def note_owners(self, pid: int) -> None:
        """Remember the uids ``pid`` runs as now (read while it runs: by the end it may be gone)."""
        uids = process_uids(pid)
        if uids:
            self.owners.setdefault(pid, set()).update(uids)

    def note_owners_of_running(self) -> None:
        """At the end: processes still running may have changed user since they were seen."""
        for pid, proc in self.processes.items():
            if proc["end_time"] is None:
                self.note_owners(pid)

    def thread(self, pid: int, tid: int, when: int) -> dict[str, object]:
        """The thread's row; a thread seen for the first time starts at ``when``."""
        thread = self.threads.get((pid, tid))
        if thread is None:
            thread = {"name": None, "start_time": when, "end_time": None}
            self.threads[(pid, tid)] = thread
            self.process(pid)
        return thread

    def named(self, event: ThreadName) -> None:
        thread = self.thread(event.pid, event.tid, event.time)
        thread["name"] = event.name
        if event.pid == event.tid or event.process:
            self.process(event.pid)["name"] = event.name
        if event.is_exec:
            self.note_owners(event.pid)  # a set-user-id program runs as another user now

    def started(self, event: ThreadStart) -> bool:
        """Record a new thread; True when it is a new process (a fork, not a thread of ``pid``)."""
        thread = self.thread(event.pid, event.tid, event.time)
        thread["start_time"] = event.time
        parent = self.threads.get((event.parent_pid, event.parent_tid))
        if thread["name"] is None and parent is not None:
            thread["name"] = parent["name"]
        if event.pid == event.tid and event.parent_pid != event.pid:
            proc = self.process(event.pid)
            proc["parent_pid"] = event.parent_pid
            proc["start_time"] = event.time
            if proc["name"] is None and parent is not None:
                proc["name"] = parent["name"]
            return True
        return False

    def exited(self, event: ThreadExit) -> None:
        self.thread(event.pid, event.tid, event.time)["end_time"] = event.time
        if event.pid == event.tid:
            self.process(event.pid)["end_time"] = event.time
