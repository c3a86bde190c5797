"""staxd-macos's plugin: offers the macOS broker to ``stax setup`` and ``stax doctor``.

Loading this module imports nothing heavy; :mod:`staxd_macos.broker` loads its parts
when a command uses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

import stax
from stax.capabilities import CapabilityRow, HostCheck
from stax.contracts import PrivilegedBroker


class MacosBroker:
    """staxd as a LaunchDaemon; see :mod:`staxd_macos.broker`."""

    os_name = "darwin"

    def setup(self, *, dry_run: bool, uninstall: bool, out: IO[str]) -> int:
        from staxd_macos import broker

        return broker.setup(dry_run=dry_run, uninstall=uninstall, out=out)

    def doctor_table(self, rows: Sequence[CapabilityRow]) -> list[CapabilityRow | HostCheck]:
        from staxd_macos import broker

        return broker.doctor_table(rows)


@stax.hookimpl
def stax_privileged_brokers() -> Sequence[PrivilegedBroker]:
    return [MacosBroker()]
