"""``stax setup`` on Linux: install (or remove) staxd as a systemd service, as a list of actions.

Install and uninstall are each planned first as a list of :class:`stax.setup_plan.Action`
(what, then how), so ``--dry-run`` prints exactly what a real run would do, and a real
run says what it did line by line; a dry run also prints the unit it would write.
Before anything, the code the unit would run as root must be root's alone
(:mod:`staxd_linux.root_owned`).  Without a running systemd (containers, other
init systems) the files are still installed and the output says plainly that
staxd was not started and how to start it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import attrs

from stax.errors import StaxError
from stax.install_hint import root_venv_hint
from stax.setup_plan import (
    GROUP,
    Action,
    group_steps,
    group_uninstall_step,
    policy_install_step,
    policy_uninstall_steps,
    remove_file,
    run_command,
    write_file,
)
from staxd_linux.policy import DEFAULT_POLICY_TEXT
from staxd_linux.root_owned import first_unsafe
from staxd_linux.systemd_units import POLICY_PATH, UNIT_DIR, UNIT_NAME, exec_command, service_unit


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
                        f"as root; install stax system-wide or in {root_venv_hint('linux')}.")
    unit = service_unit(command)
    actions.append(Action(f"write {host.unit_path} (ExecStart={' '.join(command)})",
                          write_file(host.unit_path, unit, 0o644), detail=unit))
    actions.append(policy_install_step(host.policy_path, DEFAULT_POLICY_TEXT))
    actions += group_steps(host.sudo_user, ["groupadd", "--system", GROUP],
                           lambda user: ["usermod", "-aG", GROUP, user], f"usermod -aG {GROUP} USER")
    actions += _systemctl_steps(host, [["daemon-reload"], ["enable", "--now", UNIT_NAME]], starting=True)
    return actions


def plan_uninstall(host: Host) -> list[Action]:
    """The steps of ``stax setup --uninstall``: the install, undone."""
    actions = _systemctl_steps(host, [["disable", "--now", UNIT_NAME]], starting=False)
    if host.unit_path.exists():
        actions.append(Action(f"remove {host.unit_path}", remove_file(host.unit_path)))
        actions += _systemctl_steps(host, [["daemon-reload"]], starting=False)
    actions += policy_uninstall_steps(host.policy_path, DEFAULT_POLICY_TEXT)
    actions += group_uninstall_step(["groupdel", GROUP])
    return actions


def _systemctl_steps(host: Host, commands: list[list[str]], starting: bool) -> list[Action]:
    if host.systemctl and host.systemd_running:
        return [Action(f"systemctl {' '.join(c)}", run_command(host.systemctl, *c)) for c in commands]
    why = ("systemctl is not installed" if not host.systemctl
           else f"systemd is not running on this host (PID 1 is {_pid1_name()!r})")
    steps = [Action(f"skip 'systemctl {' '.join(c)}': {why}") for c in commands]
    if starting:
        steps.append(Action(f"staxd is installed but not started; start it as root with: "
                            f"{' '.join(exec_command())}"))
    return steps
