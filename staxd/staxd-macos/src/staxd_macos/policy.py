"""staxd-macos's policy: the same TOML file, keys and parser as staxd-linux, read for macOS.

The parser is staxd-linux's (:mod:`staxd_linux.policy`: fail closed on unknown keys,
wrong types, unreadable files), imported from there; it imports nothing of the Linux
backend.  Sharing it costs staxd-macos a dependency on staxd-linux until the staxd
structure issue moves it (and the wire protocol) into a shared leaf library.

What each key means on macOS: ``allowed_groups``/``allowed_users`` who may connect;
``allow_other_users`` tracing processes of other users; ``allow_system_wide`` every
process; ``allow_kernel_stacks`` kernel callstacks in samples; ``allow_tracepoints``
the scheduler events (off-CPU spans and wakeups, which name other processes'
threads); ``allow_counters`` kpc PMU counters; ``max_frequency`` the highest sampling
rate (kperf's PET period is at least 1 ms anyway); ``socket_group``/``socket_mode``
the socket; ``client_timeout`` how long a silent client is waited for.
``max_clients`` and ``max_fds_per_request`` do not apply: ktrace has one owner, so
staxd-macos records for one client at a time and tells the others it is busy.
"""

from __future__ import annotations

from staxd_linux.policy import DEFAULT_POLICY_PATH, Policy, PolicyError, load_policy, parse_policy

__all__ = ["DEFAULT_POLICY_PATH", "DEFAULT_POLICY_TEXT", "Policy", "PolicyError", "load_policy",
           "parse_policy"]

DEFAULT_POLICY_TEXT = """\
# staxd policy for macOS (see docs/staxd.md; the same keys as on Linux).  root may always
# connect and is not limited by the allow_* switches below.

# Who may connect: members of these groups, and these users (names or uids).
allowed_groups = ["stax"]
allowed_users = []

# What a non-root client may ask for.
allow_other_users = false    # processes owned by other users
allow_system_wide = false    # every process
allow_kernel_stacks = false  # kernel callstacks in samples (kernel addresses: off, as on Linux)
allow_tracepoints = true     # scheduler events: off-CPU time and who woke whom
allow_counters = true        # kpc PMU counters (cycles, instructions, ...)
max_frequency = 1000         # Hz; kperf samples at most every 1 ms

# The socket.
socket_group = "stax"        # group owning the socket
socket_mode = "0660"         # octal permission bits of the socket
client_timeout = 10.0        # seconds a client may stay silent before it is dropped
"""
