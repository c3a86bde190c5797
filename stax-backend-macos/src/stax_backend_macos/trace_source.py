"""The root side of a macOS recording: own ktrace, configure kdebug and kperf, drain the records.

Used in-process when stax runs as root, and by staxd-macos for everyone else (it then
streams what :meth:`TraceSource.drain` returns).  Kernel tracing state survives its
owner, so :meth:`start` resets whatever a crashed owner left and :meth:`stop` always
tears everything down.  NEVER RUN ON A MAC: every call here goes to darwin_ffi.
"""

from __future__ import annotations

import attrs

from stax_backend_macos import darwin_ffi, kdebug_control, kperf_sampling
from stax_backend_macos.staxd_wire import RecordRequest

BUFFER_RECORDS = 1_000_000
"""Kernel trace buffer size in records (64 MB)."""
READ_BUFFER_BYTES = 8 * 1024 * 1024


@attrs.frozen(slots=True)
class TraceStart:
    """What the decoder needs from the tracing side."""

    timebase: tuple[int, int]
    period_ns: int
    counter_names: tuple[str, ...]
    start_ticks: int
    thread_map: bytes


class TraceSource:
    """One recording's kernel tracing session."""

    def __init__(self, request: RecordRequest) -> None:
        self.request = request
        self._buffer = bytearray(READ_BUFFER_BYTES)
        self._counting = False
        self._started = False

    def start(self) -> TraceStart:
        request = self.request
        lib, ffi = darwin_ffi.libsystem(), darwin_ffi.ffi
        info = ffi.new("mach_timebase_info_data_t *")
        lib.mach_timebase_info(info)
        kperf_sampling.stop_sampling()  # what a previous owner may have left running
        kdebug_control.reset()
        self._started = True
        kdebug_control.setup(BUFFER_RECORDS, kdebug_control.trace_classes(request.off_cpu))
        counter_names: tuple[str, ...] = ()
        if request.counters:
            counter_names = kperf_sampling.start_counters().names
            self._counting = True
        period = kperf_sampling.period_for(request.frequency)
        kdebug_control.enable(True)
        thread_map = kdebug_control.read_thread_map()
        start = lib.mach_absolute_time()
        pid = request.pids[0] if len(request.pids) == 1 and not request.follow_children else -1
        kperf_sampling.start_sampling(pid, period, request.kernel_stacks, request.counters)
        return TraceStart((info.numer, info.denom), period, counter_names, start, thread_map)

    def drain(self, timeout_ms: int = 100) -> bytes:
        """The records gathered since the last drain (waits up to ``timeout_ms`` for them)."""
        kdebug_control.wait(timeout_ms)
        return kdebug_control.read_records(self._buffer)

    def stop(self) -> bytes:
        """Stop sampling and tracing; the records still in the buffer."""
        if not self._started:
            return b""
        self._started = False
        try:
            kperf_sampling.stop_sampling()
            kdebug_control.enable(False)
            rest = kdebug_control.read_records(self._buffer)
        finally:
            if self._counting:
                kperf_sampling.stop_counters()
                self._counting = False
            kdebug_control.reset()
        return rest
