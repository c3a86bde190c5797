"""staxd-macos's plugin: offers the macOS broker (LaunchDaemon) to ``stax setup`` and ``stax doctor``.

Loading this module imports nothing heavy: :mod:`staxd_macos.broker` is imported when a
command uses it.
"""

from __future__ import annotations

from collections.abc import Sequence

import stax
from stax.contracts import PrivilegedBroker
from stax.lazy_broker import LazyBroker


@stax.hookimpl
def stax_privileged_brokers() -> Sequence[PrivilegedBroker]:
    return [LazyBroker("darwin", "staxd_macos.broker")]
