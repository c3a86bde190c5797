"""Registers the macOS capture backend.

On macOS recording goes through staxd (kperf/kdebug need root); that path is not
built yet.  On any other OS every capability row says "unavailable: not macOS"
and ``record`` refuses with one sentence.  No Mac is available to this project's
machines: nothing here has run against a real kperf.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import stax
from stax.capabilities import Capability, CapabilityRow, CapabilityStatus
from stax.contracts import CaptureProgress, CaptureSummary, EventSink, RecordRequest
from stax.errors import CaptureError


class MacosBackend:
    """kperf/kdebug capture through staxd (macOS only)."""

    name = "macos-kperf"
    os_name = "darwin"

    def capabilities(self) -> list[CapabilityRow]:
        if sys.platform != "darwin":
            return [
                CapabilityRow(cap, CapabilityStatus.UNAVAILABLE, "not macOS", "")
                for cap in Capability
                if cap is not Capability.DWARF_UNWINDING
            ]
        return [
            CapabilityRow(
                cap,
                CapabilityStatus.UNAVAILABLE,
                "the macOS capture path (kperf through staxd) is not implemented yet",
                "",
            )
            for cap in Capability
        ]

    def record(
        self,
        request: RecordRequest,
        sink: EventSink,
        progress: Callable[[CaptureProgress], None],
        should_stop: Callable[[], bool],
    ) -> CaptureSummary:
        if sys.platform != "darwin":
            raise CaptureError("The macOS backend records only on macOS; this host is not macOS.")
        raise CaptureError(
            "Recording on macOS needs staxd's kperf path, which this stax does not have yet."
        )


@stax.hookimpl
def stax_capture_backends() -> list[MacosBackend]:
    return [MacosBackend()]


@stax.hookimpl
def stax_importers() -> list[object]:
    """Apple ktrace files import on any OS: the decoder is pure Python."""
    from stax_backend_macos.ktrace_importer import KtraceImporter

    return [KtraceImporter()]
