"""A ``stax setup`` plan: a list of actions, printed exactly as a real run would do them.

Each broker plans its install (or uninstall) first, so ``--dry-run`` prints every
action (with the file it would write, indented, where there is one) and a real run
says what it did line by line; the first failure stops with one sentence.
staxd-macos plans with it; staxd-linux has the same shape (and the same step and
group helpers) in its own service_install.py, which can move onto this module.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import attrs

from stax.errors import StaxError


@attrs.frozen(slots=True)
class Action:
    """One step: a sentence saying what it does, and the function that does it (None: a note only)."""

    description: str
    run: Callable[[], None] | None = None
    detail: str = ""
    """Printed under the description in a dry run, indented: the file it writes."""


def execute(actions: list[Action], out: TextIO, dry_run: bool) -> None:
    """Print each step; run it unless ``dry_run``."""
    for action in actions:
        if action.run is None:
            print(f"  {action.description}", file=out)
            continue
        print(f"{'would ' if dry_run else ''}{action.description}", file=out)
        if dry_run and action.detail:
            for line in action.detail.splitlines():
                print(f"    {line}" if line else "", file=out)
        if not dry_run:
            action.run()


def run_command(*argv: str) -> Callable[[], None]:
    """A step that runs ``argv``; its failure is one sentence with the tool's last line."""
    def run() -> None:
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StaxError(f"'{' '.join(argv)}' could not run ({exc}).") from None
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            detail = lines[-1] if lines else f"exit status {proc.returncode}"
            raise StaxError(f"'{' '.join(argv)}' failed: {detail}.")
    return run


def write_file(path: Path, data: str | bytes, mode: int) -> Callable[[], None]:
    """A step that writes ``path`` whole (a temporary renamed into place) with ``mode``."""
    def run() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    return run


def remove_file(path: Path) -> Callable[[], None]:
    def run() -> None:
        path.unlink(missing_ok=True)
    return run


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def user_in_group(user: str, group: str) -> bool:
    """``user`` is a member of ``group``, or has it as its primary group."""
    try:
        entry = grp.getgrnam(group)
        return user in entry.gr_mem or pwd.getpwnam(user).pw_gid == entry.gr_gid
    except KeyError:
        return False
