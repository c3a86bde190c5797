"""What this host lets the macOS backend capture, one row per platform-table capability.

Off macOS every row is unavailable ("not macOS"; the DWARF row, a Linux row, is left
out).  On macOS kperf and kdebug need root: as root every row is available, else
through staxd when its socket exists, else unavailable with ``sudo stax setup`` as
the fix.  PMU counters also need kperfdata's event database (/usr/share/kpep).
DWARF unwinding is not a macOS path: kperf walks frame pointers in the kernel.
The facts are parameters so the darwin rows are tested on Linux.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from stax.capabilities import Capability, CapabilityRow, CapabilityStatus
from stax_backend_macos.staxd_paths import DEFAULT_SOCKET

KPEP_DIR = Path("/usr/share/kpep")
SETUP_FIX = "run `sudo stax setup` once to install staxd, or record with sudo"


def capability_rows(platform: str = sys.platform, *, is_root: bool | None = None,
                    staxd_socket: Path = DEFAULT_SOCKET, kpep_dir: Path = KPEP_DIR) -> list[CapabilityRow]:
    if platform != "darwin":
        return [CapabilityRow(cap, CapabilityStatus.UNAVAILABLE, "not macOS", "")
                for cap in Capability if cap is not Capability.DWARF_UNWINDING]
    root = os.geteuid() == 0 if is_root is None else is_root
    if root:
        status, reason, fix = CapabilityStatus.AVAILABLE, "", ""
    elif staxd_socket.exists():
        status, reason, fix = CapabilityStatus.VIA_STAXD, f"staxd records for you ({staxd_socket})", ""
    else:
        status, reason, fix = (CapabilityStatus.UNAVAILABLE,
                               f"kperf and kdebug need root, and staxd is not installed"
                               f" ({staxd_socket} is missing)",
                               SETUP_FIX)
    rows = []
    for cap in Capability:
        if cap is Capability.DWARF_UNWINDING:
            rows.append(CapabilityRow(cap, CapabilityStatus.UNAVAILABLE,
                                      "kperf walks frame pointers in the kernel;"
                                      " .eh_frame unwinding is Linux-only",
                                      ""))
        elif cap is Capability.PMU_COUNTERS and not kpep_dir.is_dir():
            rows.append(CapabilityRow(cap, CapabilityStatus.UNAVAILABLE,
                                      f"no PMU event database ({kpep_dir} is missing)", ""))
        else:
            rows.append(CapabilityRow(cap, status, reason, fix))
    return rows
