"""``stax setup``: install the privileged broker staxd for this OS (systemd unit / LaunchDaemon).

The work is OS-specific and lives in the staxd distribution for the OS, which
implements the ``stax_privileged_brokers`` hook (see
:class:`stax.contracts.PrivilegedBroker`: ``setup`` and ``doctor_table``).
"""

from __future__ import annotations

import sys
from typing import Annotated

from cyclopts import Parameter

from stax.contracts import PrivilegedBroker
from stax.errors import StaxError, UsageError
from stax.install_hint import install_from_clone

_STAXD_DISTRIBUTION = {"linux": "staxd-linux", "darwin": "staxd-macos"}


def find_broker(platform: str = sys.platform) -> PrivilegedBroker | None:
    """The staxd support for ``platform`` (a ``stax_privileged_brokers`` plugin), or None."""
    from stax.plugin_manager import get_plugins

    return get_plugins().privileged_broker(platform)


def require_broker(platform: str = sys.platform) -> PrivilegedBroker:
    broker = find_broker(platform)
    if broker is None:
        dist = _STAXD_DISTRIBUTION.get(platform)
        if dist is None:
            raise StaxError(f"staxd does not exist for {platform}; stax supports Linux and macOS.")
        raise StaxError(f"{dist} is not installed, so staxd cannot be set up; install it with "
                        f"{install_from_clone(dist)}.")
    return broker


_OS_NAMES = {"linux": "linux", "macos": "darwin"}


def setup(
    *,
    dry_run: Annotated[bool, Parameter(name="--dry-run", negative="")] = False,
    uninstall: Annotated[bool, Parameter(name="--uninstall", negative="")] = False,
    os_name: Annotated[str | None, Parameter(name="--os")] = None,
) -> int:
    """Install staxd, the privileged broker, as a system service (run with sudo).

    Installs the service (a systemd unit on Linux, a LaunchDaemon on macOS), writes
    the default policy if there is none, creates group 'stax', adds the invoking user
    (SUDO_USER) to it and starts the service. Refuses if anyone but root could change
    the Python files the service would run.

    Parameters
    ----------
    dry_run
        Print every action and the unit or plist text, and change nothing.
    uninstall
        Stop and remove the service, the unchanged default policy and group 'stax'.
    os_name
        Plan for another OS ('linux' or 'macos'), e.g. ``--dry-run --os macos`` on Linux.
    """
    platform = sys.platform
    if os_name is not None:
        if os_name not in _OS_NAMES:
            raise UsageError(f"--os {os_name!r} is not known; use 'linux' or 'macos'.")
        platform = _OS_NAMES[os_name]
    return int(require_broker(platform).setup(dry_run=dry_run, uninstall=uninstall, out=sys.stdout))
