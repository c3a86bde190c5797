"""The event ``stax record`` samples: cpu-clock, or what ``-e`` names in perf's spelling.

:func:`stax_binfmt.perf_event_names.parse_event` reads the name; here it is checked
against this host (a PMU for cycles and instructions, tracefs for a tracepoint, which
is mounted as for sched_waking) before anything is opened, so a wrong ``-e`` is one
sentence and no half-started capture.  Anything but the default (cpu-clock at ``-F``
of whole processes) is opened in-process only: staxd grants cpu-clock sampling.
"""

from __future__ import annotations

import errno
import os

from stax.contracts import RecordRequest
from stax.errors import UsageError
from stax_backend_linux.host_capabilities import HostFacts
from stax_backend_linux.off_cpu.sched_waking import TracefsUnavailable, tracefs_root
from stax_binfmt import tracefs
from stax_binfmt.perf_event_names import DEFAULT_EVENT, EventChoice, EventNameError, parse_event

IN_PROCESS_FIX = ("record as root, or run 'sudo sysctl kernel.perf_event_paranoid=1' (staxd grants cpu-clock"
                  " sampling only)")
"""The fix when an ``-e`` / ``-c`` / ``-t`` event may not be opened in-process: staxd does not help."""


def is_default_sampling(request: RecordRequest) -> bool:
    """cpu-clock by frequency of whole processes: what staxd can grant too."""
    return request.event == DEFAULT_EVENT and request.period is None and not request.threads


def sampling_event(request: RecordRequest, facts: HostFacts) -> EventChoice:
    """The event ``request.event`` names, ready to open on this host; UsageError saying why not."""
    try:
        choice = parse_event(request.event)
    except EventNameError as exc:
        raise UsageError(str(exc)) from None
    if choice.needs_pmu and not facts.has_pmu:
        code = errno.errorcode.get(facts.pmu_errno, str(facts.pmu_errno))
        raise UsageError(f"-e {choice.name} is counted by a hardware PMU, which this host does not have"
                         f" (perf_event_open of cycles fails with {code}); sample by time with -e cpu-clock"
                         " (the default), or record on bare metal or with the hypervisor's virtual PMU.")
    if choice.tracepoint is None:
        return choice
    system, name = choice.tracepoint
    try:
        return choice.with_tracepoint_id(tracefs.tracepoint_id(tracefs_root(), system, name))
    except TracefsUnavailable as exc:
        if os.geteuid() != 0:  # (the sentence's own fix, staxd, grants no tracepoint sampling)
            raise UsageError(f"-e {choice.name} is a tracepoint, whose tracefs files only root may read;"
                             " record it as root.") from None
        raise UsageError(f"-e {choice.name} is a tracepoint, and {exc}.") from None
    except tracefs.TracefsError as exc:
        raise UsageError(f"-e {choice.name}: {exc.strerror}") from None
