"""Which events change a process's mappings for the unwinder (hybrid mode's kept places).

The compiled stream (decode/compiled_stream.py) and the unwinding stage
(:class:`~stax_backend_linux.dwarf_callgraph.unwind_pass.DwarfUnwindPass`) both count these
events per pid: the stream as it scans them, the unwinder as it applies them
(``image_load``, ``exec``, ``fork`` in stack_sample_stream.py).  A place whose kernel walk
the unwinder keeps is handed to the scan only while the two counts agree, i.e. the
mappings the decision was made with are the ones the scan is reading samples under.
"""

from __future__ import annotations

from stax.events import Event, ImageLoad, ThreadName, ThreadStart


def changed_mappings(event: Event) -> int | None:
    """The pid whose mappings ``event`` changes (a mapping, an exec, a new process), else None."""
    kind = type(event)
    if kind is ImageLoad:
        return event.pid  # type: ignore[attr-defined]
    if kind is ThreadName and event.is_exec:  # type: ignore[attr-defined]
        return event.pid  # type: ignore[attr-defined]
    if kind is ThreadStart and event.pid == event.tid != event.parent_pid:  # type: ignore[attr-defined]
        return event.pid  # type: ignore[attr-defined]
    return None
