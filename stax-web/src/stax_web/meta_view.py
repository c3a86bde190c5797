"""``/api/meta``: what the recording holds, the first thing the page asks for.

The process and thread list (with each thread's samples, CPU time, blocked time and
runnable wait) drives the thread filter and the timeline's tracks; ``duration_ns`` and
the time origin drive the time-range selection.  Per-thread figures come from the
reader's per-thread ``GROUP BY`` queries, nothing per sample.
"""

from __future__ import annotations

from stax.blocked_reason import BlockedReason
from stax.recording import meta_keys as mk
from stax.recording.reader import Recording

PREEMPTED = str(BlockedReason.PREEMPTED)
MODES = ("cpu", "offcpu", "runnable")


def time_origin(rec: Recording) -> tuple[int, int]:
    """(first, last) event time in ns on the recording's clock: samples and off-CPU spans.

    Every ``start``/``end`` the page sends is relative to ``first`` (the Timeline view's
    origin too); (0, 0) for a recording with neither."""
    ranges = [r for r in (rec.time_range(), rec.off_cpu_time_range()) if r]
    if not ranges:
        return 0, 0
    return min(first for first, _ in ranges), max(last for _, last in ranges)


def meta(rec: Recording, origin: tuple[int, int], has_base: bool) -> dict[str, object]:
    info = rec.meta()
    samples: dict[tuple[int, int], tuple[int, int]] = {
        (pid, tid): (count, weight or 0) for pid, tid, count, weight in rec.thread_totals()}
    blocked: dict[tuple[int, int], int] = {}
    runnable: dict[tuple[int, int], int] = {}
    span_count = rec.off_cpu_span_count()
    if span_count:
        for pid, tid, reason, _spans, ns in rec.thread_off_cpu():
            table = runnable if reason == PREEMPTED else blocked
            table[(pid, tid)] = table.get((pid, tid), 0) + (ns or 0)
    processes: dict[int, dict[str, object]] = {}
    for thread in rec.threads():
        key = (thread.pid, thread.tid)
        if key not in samples and key not in blocked and key not in runnable:
            continue  # a thread that only woke others: no track of its own
        proc = processes.setdefault(thread.pid, {"pid": thread.pid, "name": thread.process_name,
                                                 "threads": []})
        count, cpu_ns = samples.get(key, (0, 0))
        proc["threads"].append({"tid": thread.tid, "name": thread.name, "samples": count,
                                "cpu_ns": cpu_ns, "off_cpu_ns": blocked.get(key, 0),
                                "runnable_ns": runnable.get(key, 0)})
    command = info.get(mk.COMMAND_LINE)
    command_text = " ".join(map(str, command)) if isinstance(command, list) and command else ""
    first, last = origin
    return {
        "command": command_text or str(info.get(mk.TARGET) or ""),
        "recording": rec.path.name,
        "duration_ns": last - first,
        "start_ns": 0,
        "sample_count": sum(c for c, _ in samples.values()),
        "has_off_cpu": span_count > 0,
        "has_base": has_base,
        "modes": list(MODES),
        "processes": sorted(processes.values(), key=lambda p: p["pid"]),
    }
