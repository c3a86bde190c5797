"""Samples (or blocked time) per thread, for the thread line of ``stax top`` (``--off-cpu``) and
per-thread views."""

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


def thread_totals(profile: Profile, by_weight: bool = False) -> list[ThreadTotal]:
    """Every thread with selected samples, most samples first; ``by_weight``: most weight first,
    ``percent`` the share of the weight (an off-CPU profile's blocked ns, ``stax top --off-cpu``)."""
    sums: dict[tuple[int, int], list[int]] = {}
    for row in profile.thread_stacks:
        totals = sums.setdefault((row.pid, row.tid), [0, 0])
        totals[0] += row.count
        totals[1] += row.weight
    names = {(t.pid, t.tid): (t.name, t.process_name) for t in profile.threads}
    ranked = 1 if by_weight else 0
    whole = sum(totals[ranked] for totals in sums.values())
    scale = 100.0 / whole if whole else 0.0
    rows = [
        ThreadTotal(pid, tid, *names.get((pid, tid), (thread_label(None, tid),) * 2), count, weight,
                    (weight if by_weight else count) * scale)
        for (pid, tid), (count, weight) in sums.items()
    ]
    rows.sort(key=lambda r: (-(r.weight if by_weight else r.count), r.pid, r.tid))
    return rows
