"""``python -m staxd_macos --socket PATH --policy PATH``: what the LaunchDaemon runs (as root, on macOS)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from stax_backend_macos.staxd_paths import DEFAULT_SOCKET
from staxd_macos.daemon import Daemon
from staxd_macos.policy import DEFAULT_POLICY_PATH, PolicyError, load_policy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="staxd-macos", description="stax's kperf/kdebug broker for macOS.")
    parser.add_argument("--socket", type=Path, default=DEFAULT_SOCKET)
    parser.add_argument("--policy", type=Path, default=None, help=f"default: {DEFAULT_POLICY_PATH}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s staxd: %(message)s", stream=sys.stderr)
    if sys.platform != "darwin":
        print(f"staxd-macos: this is the macOS broker and this host is {sys.platform}; on Linux run staxd.",
              file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("staxd-macos: kperf and kdebug need root; launchd starts it as root (sudo stax setup).",
              file=sys.stderr)
        return 2
    try:
        policy = load_policy(args.policy)
    except PolicyError as exc:
        print(f"staxd-macos: {exc}", file=sys.stderr)
        return 2
    daemon = Daemon(args.socket, policy)
    signal.signal(signal.SIGTERM, lambda *_: daemon.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: daemon.stopping.set())
    daemon.bind()
    daemon.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
