"""``python -m staxd_linux`` / ``staxd``: run the broker in the foreground (systemd supervises it).

Arguments are parsed with argparse rather than the stax CLI: the daemon is a
separate program with two options, and it must start without loading plugins.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from stax_backend_linux.staxd_client import DEFAULT_SOCKET
from staxd_linux import __version__
from staxd_linux.daemon import StartupError, run
from staxd_linux.policy import DEFAULT_POLICY_PATH, PolicyError, load_policy
from staxd_linux.privileges import PrivilegeError


def main(argv: list[str] | None = None) -> int:
    """Parse the options, load the policy, serve; one sentence and exit 1 if it cannot start."""
    parser = argparse.ArgumentParser(prog="staxd", description="stax's privileged perf_event_open broker.")
    parser.add_argument("--socket", type=Path, default=DEFAULT_SOCKET,
                        help=f"Unix socket to listen on (default {DEFAULT_SOCKET})")
    parser.add_argument("--policy", type=Path, default=None,
                        help=f"policy file (default {DEFAULT_POLICY_PATH}; built-in defaults if absent)")
    parser.add_argument("--version", action="version", version=f"staxd-linux {__version__}")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="staxd: %(message)s")
    try:
        policy = load_policy(args.policy)
        if args.socket == DEFAULT_SOCKET and os.geteuid() == 0:  # under systemd, RuntimeDirectory= made it
            DEFAULT_SOCKET.parent.mkdir(mode=0o755, exist_ok=True)
        run(args.socket, policy)
    except (PolicyError, StartupError, PrivilegeError) as exc:
        print(f"staxd: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
