"""What stax-core's ``stax setup`` and ``stax doctor`` call on Linux.

stax-core imports no OS package by name: the `LazyBroker` of :mod:`staxd_linux.plugin`,
offered through the ``stax_privileged_brokers`` hook, forwards to these two functions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TextIO

from stax.capabilities import CapabilityRow, HostCheck
from stax.errors import StaxError


def setup(*, dry_run: bool, uninstall: bool, out: TextIO) -> int:
    """Install (or with ``uninstall`` remove) staxd as a systemd service; print each step."""
    from stax.setup_plan import execute
    from staxd_linux.service_install import Host, plan_install, plan_uninstall

    if not dry_run and os.geteuid() != 0:
        verb = "stax setup --uninstall" if uninstall else "stax setup"
        raise StaxError(f"{verb} changes system files and groups; run it with sudo: sudo {verb}.")
    host = Host()
    actions = plan_uninstall(host) if uninstall else plan_install(host)
    execute(actions, out, dry_run)
    if dry_run:
        print("(dry run: nothing was changed)", file=out)
    return 0


def doctor_table(rows: Sequence[CapabilityRow]) -> list[CapabilityRow | HostCheck]:
    """The ``stax doctor`` rows: ``rows`` (the backend's) seen through staxd, then the host checks."""
    from staxd_linux.doctor_rows import doctor_table as table

    return table(rows)
