"""``stax setup`` on Linux: install (or remove) staxd as a systemd service, as a list of actions.

Install and uninstall are each planned first as a list of :class:`Action` (what,
then how), so ``--dry-run`` prints exactly what a real run would do, and a real
run says what it did line by line; a dry run also prints the unit it would write.
Before anything, the code the unit would run as root must be root's alone
(:mod:`staxd_linux.root_owned`).  Without a running systemd (containers, other
init systems) the files are still installed and the output says plainly that
staxd was not started and how to start it.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import attrs

from stax.errors import StaxError
from staxd_linux.policy import DEFAULT_POLICY_TEXT
from staxd_linux.root_owned import first_unsafe
from staxd_linux.systemd_units import POLICY_PATH, UNIT_DIR, UNIT_NAME, exec_command, service_unit

GROUP = "stax"


@attrs.frozen(slots=True)
class Action:
    """One step: a sentence saying what it does, and the function that does it (None: a note only)."""

    description: str
    run: Callable[[], None] | None = None
    detail: str = ""
    """Printed under the description in a dry run, indented (systemd ignores that): the file it writes."""


@attrs.frozen(slots=True)
class Host:
    """Where things go and what the host is like; tests point it elsewhere."""

    unit_dir: Path = UNIT_DIR
    policy_path: Path = POLICY_PATH
    sudo_user: str | None = attrs.field(factory=lambda: os.environ.get("SUDO_USER"))
    systemd_running: bool = attrs.field(factory=lambda: Path("/run/systemd/system").is_dir())
    systemctl: str | None = attrs.field(factory=lambda: shutil.which("systemctl"))

    @property
    def unit_path(self) -> Path:
        return self.unit_dir / UNIT_NAME


def _command(*argv: str) -> Callable[[], None]:
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


def _write(path: Path, text: str, mode: int) -> Callable[[], None]:
    def run() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    return run


def _remove(path: Path) -> Callable[[], None]:
    def run() -> None:
        path.unlink(missing_ok=True)
    return run


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def _user_in_group(user: str, group: str) -> bool:
    try:
        entry = grp.getgrnam(group)
        return user in entry.gr_mem or pwd.getpwnam(user).pw_gid == entry.gr_gid
    except KeyError:
        return False


def _pid1_name() -> str:
    try:
        return Path("/proc/1/comm").read_text().strip()
    except OSError:
        return "unknown"


def plan_install(host: Host) -> list[Action]:
    """The steps of ``stax setup``, skipping what is already in place."""
    actions: list[Action] = []
    command = exec_command()
    unsafe = first_unsafe(command)
    if unsafe is not None:
        raise StaxError(f"{unsafe.path} {unsafe.why}, so {unsafe.who} could change the code staxd would run "
                        f"as root; install stax system-wide or in a root-owned virtual environment such as "
                        f"/opt/stax (sudo python3 -m venv /opt/stax && sudo /opt/stax/bin/pip install "
                        f"'stax[linux]'), then run 'sudo /opt/stax/bin/stax setup'.")
    unit = service_unit(command)
    actions.append(Action(f"write {host.unit_path} (ExecStart={' '.join(command)})",
                          _write(host.unit_path, unit, 0o644), detail=unit))
    if host.policy_path.exists():
        actions.append(Action(f"keep the existing policy {host.policy_path}"))
    else:
        actions.append(Action(f"write the default policy {host.policy_path}",
                              _write(host.policy_path, DEFAULT_POLICY_TEXT, 0o644)))
    if _group_exists(GROUP):
        actions.append(Action(f"keep the existing group {GROUP!r}"))
    else:
        actions.append(Action(f"create group {GROUP!r}: groupadd --system {GROUP}",
                              _command("groupadd", "--system", GROUP)))
    user = host.sudo_user
    if not user or user == "root":
        actions.append(Action(f"no invoking user (SUDO_USER is unset): add users with "
                              f"'usermod -aG {GROUP} USER'"))
    elif _user_in_group(user, GROUP):
        actions.append(Action(f"keep user {user} in group {GROUP!r}"))
    else:
        actions.append(Action(f"add user {user} to group {GROUP!r}: usermod -aG {GROUP} {user} (takes effect "
                              f"at the next login)", _command("usermod", "-aG", GROUP, user)))
    actions += _systemctl_steps(host, [["daemon-reload"], ["enable", "--now", UNIT_NAME]], starting=True)
    return actions


def plan_uninstall(host: Host) -> list[Action]:
    """The steps of ``stax setup --uninstall``: the install, undone."""
    actions = _systemctl_steps(host, [["disable", "--now", UNIT_NAME]], starting=False)
    if host.unit_path.exists():
        actions.append(Action(f"remove {host.unit_path}", _remove(host.unit_path)))
        actions += _systemctl_steps(host, [["daemon-reload"]], starting=False)
    path = host.policy_path
    if path.exists():
        if path.read_text() == DEFAULT_POLICY_TEXT:
            actions.append(Action(f"remove the default policy {path}", _remove(path)))
            if [p.name for p in path.parent.iterdir()] == [path.name]:
                actions.append(Action(f"remove the empty directory {path.parent}", path.parent.rmdir))
        else:
            actions.append(Action(f"keep {path}: it was edited (remove it yourself if you want)"))
    if _group_exists(GROUP):
        actions.append(Action(f"delete group {GROUP!r}: groupdel {GROUP}", _command("groupdel", GROUP)))
    return actions


def _systemctl_steps(host: Host, commands: list[list[str]], starting: bool) -> list[Action]:
    if host.systemctl and host.systemd_running:
        return [Action(f"systemctl {' '.join(c)}", _command(host.systemctl, *c)) for c in commands]
    why = ("systemctl is not installed" if not host.systemctl
           else f"systemd is not running on this host (PID 1 is {_pid1_name()!r})")
    steps = [Action(f"skip 'systemctl {' '.join(c)}': {why}") for c in commands]
    if starting:
        steps.append(Action(f"staxd is installed but not started; start it as root with: "
                            f"{' '.join(exec_command())}"))
    return steps


def execute(actions: list[Action], out: TextIO, dry_run: bool) -> None:
    """Print each step; run it unless ``dry_run``.  The first failure stops with one sentence."""
    for action in actions:
        if action.run is None:
            print(f"  {action.description}", file=out)
            continue
        print(f"{'would ' if dry_run else ''}{action.description}", file=out)
        if dry_run and action.detail:
            print("".join(f"    {line}\n" if line else "\n" for line in action.detail.splitlines()), end="",
                  file=out)
        if not dry_run:
            action.run()
