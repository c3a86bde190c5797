"""The sched:sched_waking tracepoint: its id and where the wakee's pid sits in its raw record.

tracefs ``events/sched/sched_waking/format`` lists each field as
``field:<C declaration>;\\toffset:N;\\tsize:N;\\tsigned:N;`` (common fields first:
common_type, common_flags, common_preempt_count, common_pid; then comm[16], pid,
prio, target_cpu).  The offsets are what a PERF_SAMPLE_RAW record holds after its
u32 size, so they are read from the file (:mod:`stax_binfmt.tracefs`), never assumed.
Both files are root-only (mode 0440), which is why wakeups need root or staxd; root
mounts tracefs if nothing did.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import attrs

from stax_binfmt import tracefs
from stax_binfmt.tracefs import TraceField

SYSTEM, NAME = "sched", "sched_waking"
ROOT_FIX = "run stax as root, or install staxd once with 'sudo stax setup'"


class TracefsUnavailable(Exception):
    """sched_waking cannot be opened from this process; ``str()`` is one sentence with the reason."""


@attrs.frozen(slots=True)
class SchedWaking:
    """What opening and decoding sched_waking needs: the id and the wakee ``pid`` field."""

    tracepoint_id: int
    fields: dict[str, TraceField]

    @property
    def pid_offset(self) -> int:
        return self.fields["pid"].offset


def tracefs_root() -> Path:
    """The tracefs directory, mounting it at /sys/kernel/tracing when root and it is not mounted.

    Raises :class:`TracefsUnavailable` with the reason and the fix otherwise.
    """
    found = tracefs.readable_root()
    if found is not None:
        return found
    if os.geteuid() != 0:
        points = tracefs.mount_points()
        if points:
            raise TracefsUnavailable(f"tracefs (at {points[0]}) is readable only by root; {ROOT_FIX}")
        raise TracefsUnavailable(f"tracefs is not mounted and only root can mount it; {ROOT_FIX}")
    try:
        root, _ = tracefs.ensure_mounted(f"run '{tracefs.MOUNT_COMMAND}'")
    except tracefs.TracefsError as exc:
        raise TracefsUnavailable(str(exc.strerror).rstrip(".")) from None
    return root


def load_sched_waking(root: Path | None = None) -> SchedWaking:
    """Locate (mounting tracefs if needed and allowed) and read sched_waking's id and format.

    Raises :class:`TracefsUnavailable` with one sentence when it cannot.
    """
    root = root or tracefs_root()
    try:
        tracepoint_id = tracefs.tracepoint_id(root, SYSTEM, NAME)
        fields = tracefs.tracepoint_fields(root, SYSTEM, NAME)
    except tracefs.TracefsError as exc:
        if exc.errno == errno.EACCES:
            raise TracefsUnavailable(f"the sched:sched_waking tracepoint files are readable only by root "
                                     f"(uid {os.geteuid()}); {ROOT_FIX}") from None
        raise TracefsUnavailable(f"the sched:sched_waking tracepoint is missing from {root} "
                                 f"({str(exc.strerror).rstrip('.')})") from None
    pid = fields.get("pid")
    if pid is None or pid.size != 4:
        raise TracefsUnavailable("the sched:sched_waking format has no 4-byte 'pid' field on this kernel")
    return SchedWaking(tracepoint_id, fields)
