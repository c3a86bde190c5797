"""Where staxd-macos listens: shared by the backend (client, capability rows) and the daemon.

Kept apart from the wire protocol so that reading it imports nothing else.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_SOCKET = Path("/var/run/stax/staxd.sock")
"""staxd-macos creates this socket itself; its LaunchDaemon plist passes the path."""
