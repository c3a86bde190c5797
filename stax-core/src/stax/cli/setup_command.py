"""``stax setup``: install the privileged broker staxd for this OS (systemd unit / LaunchDaemon).

The work is OS-specific and lives in the staxd distribution for the OS, found
through the ``stax.staxd`` entry-point group under the name ``sys.platform``.
That module provides two functions, which are the whole contract:

* ``setup(*, dry_run: bool, uninstall: bool, out: TextIO) -> int`` — print each
  step and do it (or, with ``dry_run``, only print it); raise
  :class:`stax.errors.StaxError` with one sentence when it cannot.
* ``doctor_table(rows: Sequence[CapabilityRow]) -> list[dict[str, str]]`` — the
  ``stax doctor`` rows (``capability``, ``status``, ``reason``, ``fix``, ``kind``):
  the backend's rows as staxd changes them, then the host checks.
"""

from __future__ import annotations

import sys
from importlib import metadata
from types import ModuleType
from typing import Annotated

from cyclopts import Parameter

from stax.errors import StaxError

BROKER_GROUP = "stax.staxd"
_STAXD_DISTRIBUTION = {"linux": "staxd-linux", "darwin": "staxd-macos"}


def find_broker(platform: str = sys.platform) -> ModuleType | None:
    """The staxd support module for ``platform``, or None when its distribution is not installed."""
    for entry in metadata.entry_points(group=BROKER_GROUP):
        if entry.name == platform:
            try:
                return entry.load()
            except Exception as exc:  # a broken install must be one sentence, not a traceback
                raise StaxError(f"The staxd support for {platform} failed to load ({exc}); reinstall "
                                f"{_STAXD_DISTRIBUTION.get(platform, 'it')}.") from None
    return None


def require_broker(platform: str = sys.platform) -> ModuleType:
    broker = find_broker(platform)
    if broker is None:
        dist = _STAXD_DISTRIBUTION.get(platform)
        if dist is None:
            raise StaxError(f"staxd does not exist for {platform}; stax supports Linux and macOS.")
        extra = "linux" if platform == "linux" else "macos"
        raise StaxError(f"{dist} is not installed, so staxd cannot be set up; install it with "
                        f"pip install 'stax[{extra}]'.")
    return broker


def setup(
    *,
    dry_run: Annotated[bool, Parameter(name="--dry-run", negative="")] = False,
    uninstall: Annotated[bool, Parameter(name="--uninstall", negative="")] = False,
) -> int:
    """Install staxd, the privileged broker, as a system service (run with sudo).

    Installs the service unit, writes the default policy if there is none, creates
    group 'stax', adds the invoking user (SUDO_USER) to it and starts the service.

    Parameters
    ----------
    dry_run
        Print every action and change nothing.
    uninstall
        Stop and remove the service, the unchanged default policy and group 'stax'.
    """
    return int(require_broker().setup(dry_run=dry_run, uninstall=uninstall, out=sys.stdout))
