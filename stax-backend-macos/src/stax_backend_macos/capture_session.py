"""``stax record`` on macOS: a trace source (in-process as root, else staxd), the decoder, the sink.

:func:`record` picks the source and the target (a command started suspended, pids,
or everything); :func:`run_capture` is the loop, and is OS-neutral: it takes any
object with ``start/drain/stop`` (the kernel via :class:`.trace_source.TraceSource`,
staxd via :class:`.staxd_link.StaxdTrace`), so the tests run it on Linux against a
real staxd-macos daemon that replays a synthesized trace.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Protocol

from stax import target_exit
from stax.contracts import CaptureProgress, CaptureSummary, EventSink, RecordRequest
from stax.errors import CaptureError, UsageError
from stax.recording import meta_keys as mk
from stax_backend_macos.kd_buf import records, thread_map
from stax_backend_macos.kdebug_decoder import KdebugDecoder, Timebase
from stax_backend_macos.staxd_wire import RecordRequest as WireRequest
from stax_backend_macos.trace_source import TraceStart

DRAIN_TIMEOUT_MS = 100


class Source(Protocol):
    def start(self) -> TraceStart: ...
    def drain(self, timeout_ms: int = DRAIN_TIMEOUT_MS) -> bytes: ...
    def stop(self) -> bytes: ...


def wire_request(request: RecordRequest, command_pid: int | None) -> WireRequest:
    if request.call_graph not in ("fp", "fp-only"):
        raise UsageError("--call-graph dwarf exists on Linux only; kperf walks frame pointers on macOS"
                         " (leave --call-graph out).")
    pids = (command_pid,) if command_pid is not None else request.pids
    return WireRequest(pids=pids, system_wide=request.system_wide, frequency=request.frequency,
                       kernel_stacks=request.kernel_stacks, off_cpu=request.off_cpu,
                       counters=request.counters,
                       follow_children=command_pid is not None)


def run_capture(source: Source, wire: WireRequest, sink: EventSink,
                progress: Callable[[CaptureProgress], None], should_stop: Callable[[], bool],
                *, done: Callable[[], bool] = lambda: False, duration: float | None = None,
                started: Callable[[], None] = lambda: None) -> CaptureSummary:
    """Start ``source``, decode until ``done()`` / ``duration`` / ``should_stop()``, stop it, finish."""
    start = source.start()
    decoder = KdebugDecoder(Timebase(*start.timebase), start.period_ns,
                            pids=None if wire.system_wide else wire.pids, counter_names=start.counter_names,
                            follow_children=wire.follow_children)
    sink.consume(decoder.seed_threads(thread_map(start.thread_map), start.start_ticks))
    began = time.monotonic()
    try:
        started()
        while not (should_stop() or done()
                   or (duration is not None and time.monotonic() - began >= duration)):
            events = decoder.feed(records(source.drain(DRAIN_TIMEOUT_MS)))
            if events:
                sink.consume(events)
            progress(CaptureProgress(time.monotonic() - began, decoder.sample_count, decoder.lost_events))
    finally:
        rest = source.stop()
    sink.consume(decoder.feed(records(rest)) + decoder.finish())
    notes = []
    if decoder.lost_events:
        notes.append(f"The kernel's trace buffer overflowed {decoder.lost_events:,} times: events were lost;"
                     " record a shorter time or at a lower frequency.")
    skipped = decoder.skipped()
    if skipped:
        notes.append("Skipped " + ", ".join(f"{n:,} {what}" for what, n in skipped.items()) + ".")
    return CaptureSummary(samples=decoder.sample_count, lost_records=decoder.lost_events, notes=notes,
                          metadata={mk.BACKEND_TIMEBASE.field: f"{start.timebase[0]}/{start.timebase[1]}",
                                    mk.BACKEND_SAMPLE_PERIOD_NS.field: start.period_ns,
                                    mk.BACKEND_OFF_CPU.field: wire.off_cpu,
                                    mk.BACKEND_RECORDS.field: decoder.records})


def record(request: RecordRequest, sink: EventSink, progress: Callable[[CaptureProgress], None],
           should_stop: Callable[[], bool]) -> CaptureSummary:
    """Record on this Mac (NEVER RUN ON A MAC: written from the documentation, see the README)."""
    if sys.platform != "darwin":
        raise CaptureError("The macOS backend records only on macOS; this host is not macOS.")
    if request.event != "cpu-clock" or request.period is not None or request.threads:
        raise UsageError("-e, -c and -t are perf's (Linux) spellings; on macOS stax samples CPU time with"
                         " kperf's timer at -F, for a command, -p PIDs or -a.")
    from stax_backend_macos.suspended_command import resume, spawn_suspended

    command_pid = spawn_suspended(request.command) if request.command else None
    wire = wire_request(request, command_pid)
    if os.geteuid() == 0:
        from stax_backend_macos.trace_source import TraceSource

        source: Source = TraceSource(wire)
    else:
        from stax_backend_macos.staxd_link import StaxdTrace

        source = StaxdTrace(wire)
    exit_status: list[int] = []
    stopped = False

    def done() -> bool:
        if command_pid is None or exit_status:
            return bool(exit_status)
        pid, status = os.waitpid(command_pid, os.WNOHANG)
        if pid:
            exit_status.append(status)
        return bool(exit_status)

    try:
        summary = run_capture(source, wire, sink, progress, should_stop, done=done, duration=request.duration,
                              started=(lambda: resume(command_pid)) if command_pid else (lambda: None))
    finally:
        if command_pid is not None and not exit_status:
            stopped = True
            try:
                os.kill(command_pid, signal.SIGKILL)  # a stopped child ignores SIGTERM until resumed
                exit_status.append(os.waitpid(command_pid, 0)[1])
            except (ProcessLookupError, ChildProcessError):
                pass
    if exit_status:
        summary.target_exit_code = target_exit.exit_code(exit_status[0])
        summary.target_signal = target_exit.killed_by(exit_status[0])
    summary.target_stopped = stopped
    return summary
