"""``stax setup`` on macOS: install (or remove) the staxd LaunchDaemon, as a plan of actions.

Install: refuse if anyone but root could change the code launchd would run as root
(staxd-linux's check, the same rule), write /Library/LaunchDaemons/org.stax.staxd.plist,
the default policy if there is none, create group ``stax`` with dseditgroup, add the
invoking user (SUDO_USER), then ``launchctl bootstrap system`` the plist.  Uninstall
undoes each step (an edited policy is kept).  The plan is pure, so ``stax setup
--dry-run --os macos`` prints it on any OS; only macOS can carry it out.
"""

from __future__ import annotations

import os
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
from staxd_linux.root_owned import first_unsafe
from staxd_macos.launchd_plist import (
    LABEL,
    PLIST_DIR,
    PLIST_NAME,
    POLICY_PATH,
    daemon_plist,
    exec_command,
    plist_bytes,
)
from staxd_macos.policy import DEFAULT_POLICY_TEXT

LAUNCHCTL = "/bin/launchctl"
DSEDITGROUP = "/usr/sbin/dseditgroup"
SERVICE = f"system/{LABEL}"


@attrs.frozen(slots=True)
class Host:
    """Where things go and who asked; tests point it elsewhere."""

    plist_dir: Path = PLIST_DIR
    policy_path: Path = POLICY_PATH
    sudo_user: str | None = attrs.field(factory=lambda: os.environ.get("SUDO_USER"))
    check_code: bool = True
    """Refuse code others could change (off only where the plan is printed, never carried out)."""

    @property
    def plist_path(self) -> Path:
        return self.plist_dir / PLIST_NAME


def plan_install(host: Host) -> list[Action]:
    command = exec_command()
    unsafe = first_unsafe(command) if host.check_code else None
    if unsafe is not None:
        raise StaxError(f"{unsafe.path} {unsafe.why}, so {unsafe.who} could change the code staxd would run "
                        f"as root; install stax in {root_venv_hint('darwin')}.")
    data = plist_bytes(daemon_plist(command))
    actions = [Action(f"write {host.plist_path} (launchd runs {' '.join(command)} as root)",
                      write_file(host.plist_path, data, 0o644), detail=data.decode())]
    actions.append(policy_install_step(host.policy_path, DEFAULT_POLICY_TEXT))
    actions += group_steps(host.sudo_user, [DSEDITGROUP, "-o", "create", "-r", "stax profiler", GROUP],
                           lambda user: [DSEDITGROUP, "-o", "edit", "-a", user, "-t", "user", GROUP],
                           f"{DSEDITGROUP} -o edit -a USER -t user {GROUP}")
    actions.append(Action(f"{LAUNCHCTL} bootstrap system {host.plist_path}"
                          f" (starts staxd now and at every boot)",
                          run_command(LAUNCHCTL, "bootstrap", "system", str(host.plist_path))))
    return actions


def plan_uninstall(host: Host) -> list[Action]:
    actions = []
    if host.plist_path.exists():
        actions.append(Action(f"{LAUNCHCTL} bootout {SERVICE} (stops staxd)",
                              run_command(LAUNCHCTL, "bootout", SERVICE)))
        actions.append(Action(f"remove {host.plist_path}", remove_file(host.plist_path)))
    else:
        actions.append(Action(f"no LaunchDaemon at {host.plist_path}: nothing to stop"))
    actions += policy_uninstall_steps(host.policy_path, DEFAULT_POLICY_TEXT)
    actions += group_uninstall_step([DSEDITGROUP, "-o", "delete", GROUP])
    return actions
