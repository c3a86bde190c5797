"""Linux capabilities: their numbers, and the sets /proc shows for a process.

Numbers from include/uapi/linux/capability.h (only the ones stax names).  A process's
sets are the ``Cap*`` lines of /proc/PID/status, hex masks with bit N for capability N
(proc(5)); ``NoNewPrivs`` is beside them.  The capture backend asks whether it may
measure the kernel (CAP_PERFMON, or CAP_SYS_ADMIN before Linux 5.8); staxd checks the
set it dropped to.
"""

from __future__ import annotations

import re

CAPABILITY_NUMBERS = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_DAC_READ_SEARCH": 2,
    "CAP_SETPCAP": 8,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_ADMIN": 21,
    "CAP_PERFMON": 38,  # Linux 5.8
    "CAP_BPF": 39,  # Linux 5.8
}


def status_sets(status_text: str) -> dict[str, int]:
    """The Cap* masks and NoNewPrivs of a /proc/PID/status text, e.g. {"CapEff": 0x..., "NoNewPrivs": 1}."""
    found = {m[1]: int(m[2], 16) for m in re.finditer(r"^(Cap\w+):\s*([0-9a-f]+)$", status_text, re.M)}
    nnp = re.search(r"^NoNewPrivs:\s*(\d+)$", status_text, re.M)
    if nnp:
        found["NoNewPrivs"] = int(nnp[1])
    return found


def own_sets() -> dict[str, int]:
    """This process's sets (raises OSError when /proc is not there)."""
    with open("/proc/self/status") as f:
        return status_sets(f.read())


def effective_has(*names: str) -> bool:
    """Whether this process's effective set holds any of ``names`` (False when /proc is unreadable)."""
    try:
        effective = own_sets().get("CapEff", 0)
    except OSError:
        return False
    return any(effective >> CAPABILITY_NUMBERS[name] & 1 for name in names)
