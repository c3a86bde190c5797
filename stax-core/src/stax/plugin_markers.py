"""The pluggy markers: ``hookimpl`` is public (plugins use it), ``hookspec`` is private."""

import pluggy

PROJECT_NAME = "stax"
ENTRY_POINT_GROUP = "stax"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
_hookspec = pluggy.HookspecMarker(PROJECT_NAME)
