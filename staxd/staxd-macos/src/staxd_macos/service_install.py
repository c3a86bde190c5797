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
from stax.setup_plan import Action, group_exists, remove_file, run_command, user_in_group, write_file
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

GROUP = "stax"
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
                        f"as root; install stax in a root-owned virtual environment such as /opt/stax "
                        f"(sudo python3 -m venv /opt/stax && sudo /opt/stax/bin/pip install 'stax[macos]'), "
                        f"then run 'sudo /opt/stax/bin/stax setup'.")
    data = plist_bytes(daemon_plist(command))
    actions = [Action(f"write {host.plist_path} (launchd runs {' '.join(command)} as root)",
                      write_file(host.plist_path, data, 0o644), detail=data.decode())]
    if host.policy_path.exists():
        actions.append(Action(f"keep the existing policy {host.policy_path}"))
    else:
        actions.append(Action(f"write the default policy {host.policy_path}",
                              write_file(host.policy_path, DEFAULT_POLICY_TEXT, 0o644)))
    if group_exists(GROUP):
        actions.append(Action(f"keep the existing group {GROUP!r}"))
    else:
        actions.append(Action(f"create group {GROUP!r}: {DSEDITGROUP} -o create -r 'stax profiler' {GROUP}",
                              run_command(DSEDITGROUP, "-o", "create", "-r", "stax profiler", GROUP)))
    user = host.sudo_user
    if not user or user == "root":
        actions.append(Action(f"no invoking user (SUDO_USER is unset): add users with "
                              f"'{DSEDITGROUP} -o edit -a USER -t user {GROUP}'"))
    elif user_in_group(user, GROUP):
        actions.append(Action(f"keep user {user} in group {GROUP!r}"))
    else:
        actions.append(Action(f"add user {user} to group {GROUP!r}: {DSEDITGROUP} -o edit -a {user} -t user"
                              f" {GROUP} (takes effect at the next login)",
                              run_command(DSEDITGROUP, "-o", "edit", "-a", user, "-t", "user", GROUP)))
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
    path = host.policy_path
    if path.exists():
        if path.read_text() == DEFAULT_POLICY_TEXT:
            actions.append(Action(f"remove the default policy {path}", remove_file(path)))
        else:
            actions.append(Action(f"keep {path}: it was edited (remove it yourself if you want)"))
    if group_exists(GROUP):
        actions.append(Action(f"delete group {GROUP!r}: {DSEDITGROUP} -o delete {GROUP}",
                              run_command(DSEDITGROUP, "-o", "delete", GROUP)))
    return actions
