"""Registers the perf.data importer (the ``stax_importers`` hook).

Its own entry point, so the importer is offered wherever stax-backend-linux is
installed, on any OS: reading a file needs no perf_event_open.
"""

from __future__ import annotations

import stax


@stax.hookimpl
def stax_importers() -> list[object]:
    from stax_backend_linux.perf_data.importer import PerfDataImporter

    return [PerfDataImporter()]
