"""staxd's policy file (TOML): who may connect and what they may ask for.

The file is read once at start.  It fails closed: an unknown key, a wrong type or
an unreadable file stops the daemon with one sentence instead of running with a
policy the administrator did not write.  A missing file at the default path means
the defaults below; docs/staxd.md is the reference.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import attrs

DEFAULT_POLICY_PATH = Path("/etc/stax/staxd.toml")
BUILT_IN = "built-in defaults"

DEFAULT_POLICY_TEXT = """\
# staxd policy (see docs/staxd.md).  root may always connect and is not limited by
# the allow_* switches below: it could open these events itself.

# Who may connect: members of these groups, and these users (names or uids).
allowed_groups = ["stax"]
allowed_users = []

# What a non-root client may ask for.
allow_other_users = false    # target processes owned by other users
allow_system_wide = false    # every process on a CPU (pid -1)
allow_kernel_stacks = false  # kernel-mode samples and kernel call chains: kernel addresses,
                             # which defeat KASLR; set true only if every member may see them
allow_tracepoints = true     # sched:sched_waking (wakeup attribution)
allow_counters = true        # the hardware-counter group (cycles, instructions, ...)
max_frequency = 10000        # Hz; the kernel's perf_event_max_sample_rate also applies

# The socket and the daemon's limits.
socket_group = "stax"        # group owning the socket
socket_mode = "0660"         # octal permission bits of the socket
client_timeout = 10.0        # seconds a client may take to read a reply in progress
idle_timeout = 5.0           # seconds a connection may wait before its next request
max_clients = 32             # concurrent connections; more are told to retry
max_clients_per_user = 4     # concurrent connections of one user (root: no limit)
max_fds_per_request = 4096   # fds one open request may produce
max_fds_per_user = 8192      # fds staxd holds for one user until its clients have read them
"""


class PolicyError(ValueError):
    """The policy file cannot be used; ``str()`` says why and where, in one sentence."""


@attrs.frozen(slots=True)
class Policy:
    """A parsed policy; the field defaults are the documented defaults."""

    allowed_groups: tuple[str, ...] = ("stax",)
    allowed_users: tuple[str, ...] = ()
    allow_other_users: bool = False
    allow_system_wide: bool = False
    allow_kernel_stacks: bool = False
    """Off by default: kernel frames are kernel addresses, and any member could read KASLR from them."""
    allow_tracepoints: bool = True
    allow_counters: bool = True
    max_frequency: int = 10000
    socket_group: str = "stax"
    socket_mode: int = 0o660
    client_timeout: float = 10.0
    idle_timeout: float = 5.0
    max_clients: int = 32
    max_clients_per_user: int = 4
    max_fds_per_request: int = 4096
    max_fds_per_user: int = 8192
    source: str = BUILT_IN

    @property
    def file(self) -> Path:
        """The file this policy is, or would be, read from (the default path for the built-in defaults)."""
        return DEFAULT_POLICY_PATH if self.source == BUILT_IN else Path(self.source)

    def grants(self, root: bool) -> dict[str, bool]:
        """The allow_* switches as they apply to one client (root gets everything)."""
        return {
            "other_users": root or self.allow_other_users,
            "system_wide": root or self.allow_system_wide,
            "kernel_stacks": root or self.allow_kernel_stacks,
            "tracepoints": root or self.allow_tracepoints,
            "counters": root or self.allow_counters,
        }


def _check(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data[key]
    if isinstance(value, bool) and kind is not bool:
        raise PolicyError(f"{where}: {key} must not be true/false.")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise PolicyError(f"{where}: {key} must be of type {names}.")
    return value


def _names(data: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(v, str | int) and not isinstance(v, bool)
                                               for v in value):
        raise PolicyError(f"{where}: {key} must be a list of names (or numeric ids).")
    return tuple(str(v) for v in value)


def parse_policy(text: str, where: str = "policy") -> Policy:
    """Parse policy TOML; every key is optional, unknown keys are an error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{where} is not valid TOML ({exc}).") from None
    fields = {f.name for f in attrs.fields(Policy)} - {"source"}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise PolicyError(f"{where}: unknown setting {unknown[0]!r}; see docs/staxd.md for the settings.")
    values: dict[str, Any] = {"source": where}
    for key in data:
        if key in ("allowed_groups", "allowed_users"):
            values[key] = _names(data, key, where)
        elif key.startswith("allow_"):
            values[key] = _check(data, key, bool, where)
        elif key == "socket_group":
            values[key] = _check(data, key, str, where)
        elif key == "socket_mode":
            mode = _check(data, key, str, where)
            try:
                values[key] = int(mode, 8)
            except ValueError:
                raise PolicyError(f"{where}: socket_mode must be octal digits such as \"0660\".") from None
            if not 0 <= values[key] <= 0o777:
                raise PolicyError(f"{where}: socket_mode must be between \"0000\" and \"0777\".")
        elif key in ("client_timeout", "idle_timeout"):
            timeout = float(_check(data, key, (int, float), where))
            if not 0.1 <= timeout <= 3600:
                raise PolicyError(f"{where}: {key} must be between 0.1 and 3600 seconds.")
            values[key] = timeout
        else:  # the integer limits
            number = _check(data, key, int, where)
            if not 1 <= number <= 1_000_000:
                raise PolicyError(f"{where}: {key} must be between 1 and 1000000.")
            values[key] = number
    return Policy(**values)


def load_policy(path: Path | None) -> Policy:
    """Read the policy at ``path``; the default path may be absent (defaults), an explicit one may not."""
    target = path or DEFAULT_POLICY_PATH
    try:
        text = target.read_text()
    except FileNotFoundError:
        if path is None:
            return Policy()
        raise PolicyError(f"policy file {target} does not exist.") from None
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {target} ({exc.strerror}).") from None
    return parse_policy(text, str(target))
