"""The one note a recording carries when staxd could not supply what in-process may not open."""

from __future__ import annotations

from stax_backend_linux.capture.event_opener import (
    HARDWARE_COUNTERS,
    KERNEL_FRAMES,
    OFF_CPU_STACKS,
    WAKEUPS,
    EventOpener,
    StaxdTarget,
)
from stax_backend_linux.staxd_client.client import StaxdRefused, StaxdUnavailable
from stax_binfmt.staxd_protocol import OpenRequest


def _opener(failure: Exception | None, *lost: str) -> EventOpener:
    opener = EventOpener([0, 1], paranoid=2, socket_path="/nonexistent/staxd.sock")
    opener.failure = failure  # type: ignore[assignment]
    for what in lost:
        opener.lose(what)
    return opener


def test_nothing_lost_no_note() -> None:
    assert _opener(None).note() is None


def test_staxd_not_running() -> None:
    note = _opener(StaxdUnavailable("...", "not-running"), WAKEUPS, KERNEL_FRAMES).note()
    assert note == ("Kernel frames and wakeups are missing because kernel.perf_event_paranoid is 2, the "
                    "sched_waking tracepoint needs root and staxd is not running; to record them, install "
                    "staxd once with 'sudo stax setup' and join group 'stax', or run "
                    "'sudo sysctl kernel.perf_event_paranoid=1' (all but wakeups).")


def test_not_in_the_group() -> None:
    note = _opener(StaxdUnavailable("...", "no-access"), WAKEUPS).note()
    assert note == ("Wakeups are missing because the sched_waking tracepoint needs root and you may not "
                    "use staxd's socket; to record them, join group 'stax' ('sudo usermod -aG stax USER', "
                    "then log in again), or run stax as root.")


def test_refused_by_policy() -> None:
    refusal = StaxdRefused("staxd refused: The sched:sched_waking tracepoint is not allowed by staxd's "
                           "policy.")
    note = _opener(refusal, OFF_CPU_STACKS, HARDWARE_COUNTERS).note()
    assert note is not None and note.startswith("Off-CPU stacks and hardware counters are missing because "
                                                "kernel.perf_event_paranoid is 2 and staxd refused (the "
                                                "sched:sched_waking tracepoint is not allowed")
    assert note.endswith("ask your administrator to allow it in staxd's policy, or run "
                         "'sudo sysctl kernel.perf_event_paranoid=1'.")


def test_unreachable_staxd_is_asked_once_and_requests_are_shaped_like_the_target() -> None:
    opener = _opener(None)
    request = opener.request("sampling", StaxdTarget(pids=(42,), command=True), frequency=99)
    assert request == OpenRequest(kind="sampling", pids=(42,), frequency=99, start="on_exec")
    assert opener.request("sched_waking", StaxdTarget(pids=(42,), command=True)).start == "disabled"  # type: ignore[union-attr]
    assert opener.request("sampling", StaxdTarget(pids=tuple(range(1, 100)))) is None  # more than 64 pids
    assert opener.ask(OpenRequest(kind="sampling", pids=(42,))) is None
    assert isinstance(opener.failure, StaxdUnavailable) and opener.failure.kind == "not-running"
    opener.failure = None
    assert opener.ask(OpenRequest(kind="sampling", pids=(42,))) is None
    assert opener.failure is None  # not asked again: the first failure stands for the recording
