"""A :class:`~stax.contracts.PrivilegedBroker` that imports its module only when a command uses it.

Every ``stax`` command loads the plugins, so a broker's plugin module must import
nothing heavy: both staxd distributions register a ``LazyBroker`` naming the module
that holds their ``setup`` and ``doctor_table`` functions.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import IO

import attrs

from stax.capabilities import CapabilityRow, HostCheck


@attrs.frozen(slots=True)
class LazyBroker:
    """staxd support for ``os_name``, implemented by the functions of ``module``."""

    os_name: str
    module: str
    """Dotted name of a module with ``setup(dry_run=, uninstall=, out=)`` and ``doctor_table(rows)``."""

    def setup(self, *, dry_run: bool, uninstall: bool, out: IO[str]) -> int:
        return importlib.import_module(self.module).setup(dry_run=dry_run, uninstall=uninstall, out=out)

    def doctor_table(self, rows: Sequence[CapabilityRow]) -> list[CapabilityRow | HostCheck]:
        return importlib.import_module(self.module).doctor_table(rows)
