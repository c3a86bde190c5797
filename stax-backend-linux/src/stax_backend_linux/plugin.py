"""The stax plugin: registers :class:`LinuxBackend` through the ``stax_capture_backends`` hook."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import stax
from stax.capabilities import CapabilityRow
from stax.contracts import CaptureBackend, CaptureProgress, CaptureSummary, EventSink, RecordRequest


class LinuxBackend:
    """Capture with perf_event_open: cpu-clock sampling with frame-pointer callchains."""

    name = "linux-perf"
    os_name = "linux"

    def capabilities(self) -> list[CapabilityRow]:
        """Probe this host (sysctls, capabilities, a test event) and return one row per capability."""
        from stax_backend_linux.host_capabilities import capability_rows, probe_host

        return capability_rows(probe_host())

    def record(
        self,
        request: RecordRequest,
        sink: EventSink,
        progress: Callable[[CaptureProgress], None],
        should_stop: Callable[[], bool],
    ) -> CaptureSummary:
        """Record ``request`` into ``sink``; see :mod:`stax_backend_linux.capture.capture_session`."""
        from stax_backend_linux.capture.capture_session import record

        return record(request, sink, progress, should_stop)


@stax.hookimpl
def stax_capture_backends() -> Sequence[CaptureBackend]:
    """stax-backend-linux provides one backend, for ``sys.platform == "linux"``."""
    return [LinuxBackend()]
