"""A ``stax setup`` plan: a list of actions, printed exactly as a real run would do them.

Each broker plans its install (or uninstall) first, so ``--dry-run`` prints every
action (with the file it would write, indented, where there is one) and a real run
says what it did line by line; the first failure stops with one sentence.
Both brokers (staxd-linux's and staxd-macos's service_install.py) plan with it.
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


GROUP = "stax"
"""The group whose members may ask staxd for capture (on both OSes)."""


def policy_install_step(path: Path, default_text: str) -> Action:
    """Write the default policy unless one is there (an administrator's policy is never replaced)."""
    if path.exists():
        return Action(f"keep the existing policy {path}")
    return Action(f"write the default policy {path}", write_file(path, default_text, 0o644))


def policy_uninstall_steps(path: Path, default_text: str) -> list[Action]:
    """Remove the policy if it is still the default one; an edited policy is kept."""
    if not path.exists():
        return []
    if path.read_text() != default_text:
        return [Action(f"keep {path}: it was edited (remove it yourself if you want)")]
    steps = [Action(f"remove the default policy {path}", remove_file(path))]
    if [p.name for p in path.parent.iterdir()] == [path.name]:
        steps.append(Action(f"remove the empty directory {path.parent}", path.parent.rmdir))
    return steps


def group_steps(sudo_user: str | None, create: list[str], add_member: Callable[[str], list[str]],
                add_hint: str) -> list[Action]:
    """Create :data:`GROUP` if missing and add the invoking user (``SUDO_USER``) to it.

    ``create`` and ``add_member(user)`` are the OS's commands; ``add_hint`` is the
    command a user would type for another member (USER standing for the name).
    """
    steps = []
    if group_exists(GROUP):
        steps.append(Action(f"keep the existing group {GROUP!r}"))
    else:
        steps.append(Action(f"create group {GROUP!r}: {' '.join(create)}", run_command(*create)))
    if not sudo_user or sudo_user == "root":
        steps.append(Action(f"no invoking user (SUDO_USER is unset): add users with '{add_hint}'"))
    elif user_in_group(sudo_user, GROUP):
        steps.append(Action(f"keep user {sudo_user} in group {GROUP!r}"))
    else:
        argv = add_member(sudo_user)
        steps.append(Action(f"add user {sudo_user} to group {GROUP!r}: {' '.join(argv)} (takes effect at the "
                            f"next login)", run_command(*argv)))
    return steps


def group_uninstall_step(delete: list[str]) -> list[Action]:
    """Delete :data:`GROUP` if it exists."""
    if not group_exists(GROUP):
        return []
    return [Action(f"delete group {GROUP!r}: {' '.join(delete)}", run_command(*delete))]
