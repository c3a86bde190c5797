"""The LaunchDaemon that runs staxd on macOS, generated with plistlib for this installation.

launchd.plist(5): ``Label`` names the job, ``ProgramArguments`` is its argv (this
installation's interpreter running ``-m staxd_macos``, so a venv's stax is the one
that runs), ``UserName`` root (kperf and kdebug need it), ``RunAtLoad`` +
``KeepAlive`` start it at boot and restart it when it exits, ``StandardErrorPath``
is its log.  The socket is created by staxd itself (``--socket``) rather than
through launchd's ``Sockets`` key: the policy decides its group and mode, as on
Linux, and staxd needs no launch_activate_socket() call.
"""

from __future__ import annotations

import plistlib
import sys
from pathlib import Path
from typing import Any

from stax_backend_macos.staxd_paths import DEFAULT_SOCKET

LABEL = "org.stax.staxd"
PLIST_DIR = Path("/Library/LaunchDaemons")
PLIST_NAME = f"{LABEL}.plist"
POLICY_PATH = Path("/etc/stax/staxd.toml")
LOG_PATH = Path("/var/log/staxd.log")
REQUIRED_KEYS = ("Label", "ProgramArguments", "UserName", "RunAtLoad", "KeepAlive", "StandardErrorPath")


def exec_command() -> list[str]:
    """How launchd starts staxd from this installation."""
    return [sys.executable, "-m", "staxd_macos"]


def daemon_plist(command: list[str] | None = None, socket_path: Path = DEFAULT_SOCKET,
                 policy_path: Path = POLICY_PATH, log_path: Path = LOG_PATH) -> dict[str, Any]:
    """The LaunchDaemon's dictionary."""
    return {
        "Label": LABEL,
        "ProgramArguments": [*(command or exec_command()), "--socket", str(socket_path),
                             "--policy", str(policy_path)],
        "UserName": "root",
        "GroupName": "wheel",
        "RunAtLoad": True,
        "KeepAlive": True,
        "ThrottleInterval": 2,
        "ProcessType": "Interactive",
        "Umask": 0o077,
        "StandardOutPath": str(log_path),
        "StandardErrorPath": str(log_path),
    }


def plist_bytes(plist: dict[str, Any]) -> bytes:
    """The XML property list launchd reads (what ``plutil -lint`` accepts)."""
    return plistlib.dumps(plist, fmt=plistlib.FMT_XML, sort_keys=True)
