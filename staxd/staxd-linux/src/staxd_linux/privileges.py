"""The capabilities staxd keeps once it has started, and dropping everything else.

staxd starts as root (by hand or from the systemd unit).  Start-up needs a few
privileges the grant path never uses again: giving the socket to the policy's
group (CAP_CHOWN), mounting tracefs when nothing did (CAP_SYS_ADMIN, by hand
only: the unit has systemd mount it), and shrinking the bounding set
(CAP_SETPCAP).  After start-up :func:`drop_privileges` keeps exactly
:data:`RUNTIME_CAPABILITIES` in the permitted, effective and bounding sets, empties
the inheritable and ambient sets and sets no_new_privs, so neither a bug in the
daemon nor anything it might exec can use root's other powers.  The process stays
uid 0: it keeps owner access to root's files, which the unit's ProtectSystem=strict
and ProtectHome confine (docs/staxd.md, "Least privilege").

This module is the one list of capabilities: the unit's CapabilityBoundingSet
(:data:`UNIT_CAPABILITIES`), the drop, and the tests all read it.

Why ctypes on libc's capset/capget/prctl rather than a library: the PyPI
bindings (python-prctl, last release 2020, built against libcap headers;
pyprctl, last release 2021) are unmaintained and their capability tables
predate or lag CAP_PERFMON and CAP_BPF, and loading libcap through ctypes would
tie the names to the installed libcap's version (2.43+ for those two).  The
kernel interface is small and stable: the version-3 capset structure, four
prctl options, and the capability numbers below (include/uapi/linux/capability.h).
"""

from __future__ import annotations

import ctypes
import errno
import os

from stax_binfmt.linux_capabilities import CAPABILITY_NUMBERS, own_sets

# What the grant path needs, each for a reason found by dropping it and watching what breaks
# (tests/staxd_linux/test_privileges.py runs the whole daemon test suite under exactly this set):
#   CAP_PERFMON  perf_event_open beyond perf_event_paranoid: kernel samples and call chains,
#                CPU-wide events, tracepoints with raw data; and on another user's task, where
#                perf_event_open accepts perfmon_capable() in place of ptrace_may_access() (since
#                CAP_PERFMON came in, Linux 5.8; the check is perf_check_permission() today).
#                Also required to load a BPF_PROG_TYPE_PERF_EVENT program
#                (bpf_prog_load: is_perfmon_prog_type).
#   CAP_BPF      bpf(BPF_PROG_LOAD) and bpf(BPF_MAP_CREATE) for the per-grant rate limiter, which
#                is attached with PERF_EVENT_IOC_SET_BPF (unprivileged BPF is off on most hosts).
# Not needed, and so dropped: CAP_SYS_PTRACE (/proc/PID/status and /proc/PID/task are world-readable,
# pidfd_open checks nothing, and perf_event_open takes CAP_PERFMON as above), CAP_DAC_READ_SEARCH and
# CAP_DAC_OVERRIDE (tracefs files and the policy belong to root, which the daemon still is),
# CAP_SYS_ADMIN (tracefs is mounted before the drop).
RUNTIME_CAPABILITIES = ("CAP_PERFMON", "CAP_BPF")

# What start-up under the systemd unit needs on top, dropped before the first client is served:
#   CAP_CHOWN    giving the socket to the policy's socket_group
#   CAP_SETPCAP  removing CAP_CHOWN and itself from the bounding set (PR_CAPBSET_DROP)
UNIT_STARTUP_CAPABILITIES = ("CAP_CHOWN", "CAP_SETPCAP")

# The unit's CapabilityBoundingSet (and the set the tests start the daemon under).
UNIT_CAPABILITIES = RUNTIME_CAPABILITIES + UNIT_STARTUP_CAPABILITIES

_LINUX_CAPABILITY_VERSION_3 = 0x20080522
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4


class PrivilegeError(Exception):
    """The capabilities cannot be reduced as required; ``str()`` is one sentence, and staxd does not start."""


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def mask_of(names: tuple[str, ...] | list[str]) -> int:
    """The capability bit mask of ``names``."""
    mask = 0
    for name in names:
        mask |= 1 << CAPABILITY_NUMBERS[name]
    return mask


def names_of(mask: int) -> frozenset[str]:
    """Capability names for the bits of ``mask`` (``cap_N`` for ones staxd does not name)."""
    by_number = {n: name for name, n in CAPABILITY_NUMBERS.items()}
    return frozenset(by_number.get(bit, f"cap_{bit}") for bit in range(64) if mask >> bit & 1)


def _bounding_has(libc: ctypes.CDLL, cap: int) -> bool | None:
    """Whether ``cap`` is in the bounding set; None if the kernel does not know it."""
    result = libc.prctl(PR_CAPBSET_READ, ctypes.c_ulong(cap), 0, 0, 0)
    return None if result < 0 else bool(result)




def _name(cap: int) -> str:
    return next(iter(names_of(1 << cap)))


def _require_runtime_set(libc: ctypes.CDLL, permitted: int) -> None:
    """Refuse to start without a capability the grants need, rather than refuse every client later."""
    for name in RUNTIME_CAPABILITIES:
        number = CAPABILITY_NUMBERS[name]
        if _bounding_has(libc, number) is None:
            raise PrivilegeError(f"this kernel ({os.uname().release}) has no {name}; staxd needs Linux 5.8 "
                                 f"or later.")
        if not permitted >> number & 1:
            raise PrivilegeError(f"staxd started without {name}, which it needs to open events for its "
                                 f"clients; start it as root with {name} in its capability bounding set (the "
                                 f"unit 'stax setup' writes has it).")


def drop_privileges() -> None:
    """Keep exactly RUNTIME_CAPABILITIES; empty inheritable and ambient; set no_new_privs.

    Capabilities belong to each thread, so this must run before the first thread starts;
    threads started later inherit the reduced sets.  The result is read back from
    /proc/self/status and any difference is an error.
    """
    tasks = os.listdir("/proc/self/task")
    if len(tasks) != 1:
        raise PrivilegeError(f"staxd must drop its privileges before it starts threads, but it has "
                             f"{len(tasks)} already.")
    libc = _libc()
    keep = mask_of(RUNTIME_CAPABILITIES)
    _require_runtime_set(libc, own_sets().get("CapPrm", 0))
    cleared = libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0
    if not cleared and ctypes.get_errno() != errno.EINVAL:  # EINVAL: Linux < 4.3 has no ambient set
        raise _failed("clear its ambient capabilities")
    cap = 0
    while (present := _bounding_has(libc, cap)) is not None:
        if present and not keep >> cap & 1 and libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) != 0:
            raise _failed(f"remove {_name(cap)} from its capability bounding set",
                          "it needs CAP_SETPCAP while starting (the unit 'stax setup' writes has it)")
        cap += 1
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise _failed("set no_new_privs")
    header = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    for word in range(2):
        bits = keep >> (32 * word) & 0xFFFFFFFF
        data[word] = _Data(effective=bits, permitted=bits, inheritable=0)
    if libc.capset(ctypes.byref(header), data) != 0:
        raise _failed("reduce its capabilities to " + " ".join(RUNTIME_CAPABILITIES))
    expected = {"CapInh": 0, "CapPrm": keep, "CapEff": keep, "CapBnd": keep, "CapAmb": 0, "NoNewPrivs": 1}
    actual = own_sets()
    wrong = ", ".join(f"{key} is {actual[key]:#x}" for key, value in expected.items()
                      if actual.get(key, value) != value)
    if wrong:
        raise PrivilegeError(f"staxd's capabilities are not what it set after dropping them ({wrong}).")


def _failed(what: str, fix: str = "so it does not start with more privilege than it needs") -> PrivilegeError:
    err = ctypes.get_errno()
    return PrivilegeError(f"staxd cannot {what} ({os.strerror(err)}); {fix}.")


def describe() -> str:
    """One log line: what the daemon kept."""
    return "dropped privileges: keeping " + " ".join(RUNTIME_CAPABILITIES) + ", no_new_privs"
