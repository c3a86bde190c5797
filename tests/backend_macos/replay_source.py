"""A trace source that replays synthesized records, standing in for the kernel where there is no Mac."""

from __future__ import annotations

import threading

from stax_backend_macos.trace_source import TraceStart
from tests.backend_macos.kdebug_builder import DENOM, MS, NUMER, Trace

RECORDS_PER_DRAIN = 5000


class ReplaySource:
    """Hands out ``trace``'s records a drain at a time, then nothing (as an idle kernel would)."""

    def __init__(self, trace: Trace) -> None:
        self.data = trace.kd_bufs()
        self.thread_map = trace.thread_map_bytes()
        self.offset = 0
        self.started = self.stopped = False
        self._idle = threading.Event()

    def start(self) -> TraceStart:
        self.started = True
        return TraceStart((NUMER, DENOM), MS, (), 0, self.thread_map)

    def drain(self, timeout_ms: int = 100) -> bytes:
        chunk = self.data[self.offset: self.offset + RECORDS_PER_DRAIN * 64]
        self.offset += len(chunk)
        if not chunk:
            self._idle.wait(timeout_ms / 1000)
        return chunk

    def stop(self) -> bytes:
        self.stopped = True
        rest, self.offset = self.data[self.offset:], len(self.data)
        return rest
