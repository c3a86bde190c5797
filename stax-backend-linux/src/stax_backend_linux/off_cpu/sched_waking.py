"""The sched:sched_waking tracepoint: its id and where the wakee's pid sits in its raw record.

tracefs ``events/sched/sched_waking/format`` lists each field as
``field:<C declaration>;\\toffset:N;\\tsize:N;\\tsigned:N;`` (common fields first:
common_type, common_flags, common_preempt_count, common_pid; then comm[16], pid,
prio, target_cpu).  The offsets are what a PERF_SAMPLE_RAW record holds after its
u32 size, so they are read from the file, never assumed.  Both files are root-only
(mode 0440), which is why wakeups need root or staxd.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import attrs

from stax_backend_linux.tracefs import ROOT_FIX, TracefsUnavailable, ensure_tracefs

EVENT = "sched/sched_waking"
_FIELD = re.compile(r"field:(?P<decl>[^;]+);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);"
                    r"\s*signed:(?P<signed>\d+);")


@attrs.frozen(slots=True)
class TraceField:
    offset: int
    size: int
    signed: bool


@attrs.frozen(slots=True)
class SchedWaking:
    """What opening and decoding sched_waking needs: the id and the wakee ``pid`` field."""

    tracepoint_id: int
    fields: dict[str, TraceField]

    @property
    def pid_offset(self) -> int:
        return self.fields["pid"].offset


def parse_format(text: str) -> dict[str, TraceField]:
    """Field name -> (offset, size, signed) from a tracefs ``format`` file."""
    fields: dict[str, TraceField] = {}
    for match in _FIELD.finditer(text):
        decl = match["decl"].strip()
        name = decl.split()[-1].split("[", 1)[0]
        fields[name] = TraceField(int(match["offset"]), int(match["size"]), match["signed"] == "1")
    return fields


def load_sched_waking(tracefs: Path | None = None) -> SchedWaking:
    """Locate (mounting tracefs if needed and allowed) and read sched_waking's id and format.

    Raises :class:`TracefsUnavailable` with one sentence when it cannot.
    """
    root = tracefs or ensure_tracefs()
    event_dir = root / "events" / EVENT
    try:
        tracepoint_id = int((event_dir / "id").read_text().strip())
        fields = parse_format((event_dir / "format").read_text())
    except PermissionError:
        raise TracefsUnavailable(f"the sched:sched_waking tracepoint files are readable only by root "
                                 f"(uid {os.geteuid()}); {ROOT_FIX}") from None
    except (OSError, ValueError) as exc:
        raise TracefsUnavailable(f"the sched:sched_waking tracepoint is missing from {root} "
                                 f"({exc})") from None
    pid = fields.get("pid")
    if pid is None or pid.size != 4:
        raise TracefsUnavailable("the sched:sched_waking format has no 4-byte 'pid' field on this kernel")
    return SchedWaking(tracepoint_id, fields)
