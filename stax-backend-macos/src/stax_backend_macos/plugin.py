"""Registers the macOS capture backend and the ktrace importer.

The backend records on macOS with kperf and kdebug: in-process as root, else through
staxd-macos (:mod:`stax_backend_macos.capture_session`).  On any other OS every
capability row says "unavailable: not macOS" and ``record`` refuses with one sentence.
The importer reads Apple ktrace files on any OS.  Loading this module imports
nothing heavy; no Mac has ever run the capture path (README.md).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import stax
from stax.capabilities import CapabilityRow
from stax.contracts import CaptureProgress, CaptureSummary, EventSink, RecordRequest
from stax.errors import CaptureError


class MacosBackend:
    """kperf/kdebug capture (macOS only)."""

    name = "macos-kperf"
    os_name = "darwin"

    def capabilities(self) -> list[CapabilityRow]:
        from stax_backend_macos.host_capabilities import capability_rows

        return capability_rows()

    def record(
        self,
        request: RecordRequest,
        sink: EventSink,
        progress: Callable[[CaptureProgress], None],
        should_stop: Callable[[], bool],
    ) -> CaptureSummary:
        if sys.platform != "darwin":
            raise CaptureError("The macOS backend records only on macOS; this host is not macOS.")
        from stax_backend_macos.capture_session import record

        return record(request, sink, progress, should_stop)


@stax.hookimpl
def stax_capture_backends() -> list[MacosBackend]:
    return [MacosBackend()]


@stax.hookimpl
def stax_importers() -> list[object]:
    """Apple ktrace files import on any OS: the decoder is pure Python."""
    from stax_backend_macos.ktrace_importer import KtraceImporter

    return [KtraceImporter()]
