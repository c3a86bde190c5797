"""The capture-time blocked reason of a switch-out: /proc wchan, when kernel stacks cannot say.

With kernel callchains whose addresses /proc/kallsyms can name, the reason is decided
after capture: the recording writer names the wait site in the switch-out stack
(``__schedule``, ``schedule``, then ``do_nanosleep``, ``pipe_read``, ``futex_wait_queue``
...) and :func:`stax.wait_site_classifier.classify_wait_site` picks the bucket.  Capture
itself never parses kallsyms.

Without them (perf_event_paranoid 2 without CAP_PERFMON, or kptr_restrict hiding
addresses) the fallback is ``/proc/<pid>/task/<tid>/wchan`` (proc(5)): the function a
sleeping thread waits in, read while it is still parked.  The capture loop reads it
once per drain round (~every 100 ms) for the threads whose latest switch was a
voluntary switch-out, so waits shorter than a round are usually over before they
can be read and fall back to ``other``.
"""

from __future__ import annotations

from stax.blocked_reason import BlockedReason
from stax.wait_site_classifier import classify_wchan

NO_REASON = (BlockedReason.OTHER, "")


def read_wchan(pid: int, tid: int) -> str:
    """The kernel function ``tid`` is parked in ('' when running, gone or not permitted).

    The kernel prints "0" for a running task and for a reader without ptrace read access.
    """
    try:
        with open(f"/proc/{pid}/task/{tid}/wchan", "rb") as f:
            name = f.read(128).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return "" if name == "0" else name


def reason_from_wchan(wchan: str) -> tuple[BlockedReason, str]:
    """(reason, wchan) from a /proc wchan name; ('other', '') when nothing was read."""
    if not wchan:
        return NO_REASON
    return classify_wchan(wchan), wchan
