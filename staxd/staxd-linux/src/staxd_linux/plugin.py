"""staxd-linux's plugin: offers the Linux broker to ``stax setup`` and ``stax doctor``.

Loading this module imports nothing heavy; :mod:`staxd_linux.broker` loads its parts
when a command uses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

import stax
from stax.capabilities import CapabilityRow, HostCheck
from stax.contracts import PrivilegedBroker


class LinuxBroker:
    """staxd as a systemd service; see :mod:`staxd_linux.broker`."""

    os_name = "linux"

    def setup(self, *, dry_run: bool, uninstall: bool, out: IO[str]) -> int:
        from staxd_linux import broker

        return broker.setup(dry_run=dry_run, uninstall=uninstall, out=out)

    def doctor_table(self, rows: Sequence[CapabilityRow]) -> list[CapabilityRow | HostCheck]:
        from staxd_linux import broker

        return broker.doctor_table(rows)


@stax.hookimpl
def stax_privileged_brokers() -> Sequence[PrivilegedBroker]:
    return [LinuxBroker()]
