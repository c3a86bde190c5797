"""Samples per thread, for the thread table of ``stax top`` and per-thread views."""

from __future__ import annotations

import attrs

from stax.analysis.profile import Profile
from stax.recording.reader import thread_label


@attrs.frozen(slots=True)
class ThreadTotal:
    """One thread's share of the selected samples."""

    pid: int
    tid: int
    name: str
    process_name: str
    count: int
    weight: int
    percent: float


def thread_totals(profile: Profile) -> list[ThreadTotal]:
    """Every thread with selected samples, most samples first."""
    sums: dict[tuple[int, int], list[int]] = {}
    for row in profile.thread_stacks:
        totals = sums.setdefault((row.pid, row.tid), [0, 0])
        totals[0] += row.count
        totals[1] += row.weight
    names = {(t.pid, t.tid): (t.name, t.process_name) for t in profile.threads}
    samples = sum(count for count, _ in sums.values())
    scale = 100.0 / samples if samples else 0.0
    rows = [
        ThreadTotal(pid, tid, *names.get((pid, tid), (thread_label(None, tid),) * 2), count, weight,
                    count * scale)
        for (pid, tid), (count, weight) in sums.items()
    ]
    rows.sort(key=lambda r: (-r.count, r.pid, r.tid))
    return rows
