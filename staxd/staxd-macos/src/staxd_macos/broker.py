"""What stax-core's ``stax setup`` and ``stax doctor`` call for macOS.

``setup`` carries the plan out only on macOS and as root; anywhere else it may only
print it (``stax setup --dry-run --os macos``), which is how the plan is checked on
Linux.  ``doctor_table`` adds the host checks: the LaunchDaemon and staxd's socket.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TextIO

from stax.capabilities import CapabilityRow, CapabilityStatus, HostCheck
from stax.errors import StaxError
from stax.setup_plan import execute


def setup(*, dry_run: bool, uninstall: bool, out: TextIO) -> int:
    """Install (or with ``uninstall`` remove) the staxd LaunchDaemon; print each step."""
    from staxd_macos.service_install import Host, plan_install, plan_uninstall

    verb = "stax setup --uninstall" if uninstall else "stax setup"
    on_mac = sys.platform == "darwin"
    if not dry_run and not on_mac:
        raise StaxError(f"{verb} --os macos installs a LaunchDaemon and runs only on a Mac; add --dry-run to"
                        f" print what it would do there.")
    if not dry_run and os.geteuid() != 0:
        raise StaxError(f"{verb} changes system files and groups; run it with sudo: sudo {verb}.")
    host = Host(check_code=on_mac)
    if not on_mac:
        print(f"# the macOS plan, printed on {sys.platform}"
              f" (this host's files and groups stand in for the Mac's)",
              file=out)
    execute(plan_uninstall(host) if uninstall else plan_install(host), out, dry_run)
    if dry_run:
        print("(dry run: nothing was changed)", file=out)
    return 0


def doctor_table(rows: Sequence[CapabilityRow]) -> list[CapabilityRow | HostCheck]:
    """The backend's rows, then whether the LaunchDaemon is installed and staxd's socket exists."""
    from stax_backend_macos.staxd_paths import DEFAULT_SOCKET
    from staxd_macos.service_install import Host

    table: list[CapabilityRow | HostCheck] = list(rows)
    plist = Host().plist_path
    checks = [
        ("staxd LaunchDaemon", plist.exists(), f"{plist} is installed", f"{plist} is missing"),
        ("staxd socket", DEFAULT_SOCKET.exists(), f"staxd listens on {DEFAULT_SOCKET}",
         f"nothing listens on {DEFAULT_SOCKET}"),
    ]
    for name, ok, yes, no in checks:
        table.append(HostCheck(name, CapabilityStatus.AVAILABLE if ok else CapabilityStatus.UNAVAILABLE,
                               yes if ok else no, "" if ok else "run 'sudo stax setup'"))
    return table
