"""Whether /proc/kallsyms shows kernel addresses to us, for the off-CPU reason source.

The capture path never names kernel frames: the recording keeps raw addresses and
stax-symbols' kallsyms source names them when the recording is symbolicated, after
which the writer classifies each span by its wait site.  Capture only needs to know
whether that will be possible; if kernel.kptr_restrict hides addresses (every one
reads as zero, or CAP_SYSLOG is missing at kptr_restrict 1), it reads /proc wchan
instead.
"""

from __future__ import annotations

KALLSYMS = "/proc/kallsyms"


def kernel_addresses_visible(path: str = KALLSYMS) -> bool:
    """Whether /proc/kallsyms shows real addresses to us (kptr_restrict shows zeros).

    Reads one line: the capture path needs only this answer; names come later, from
    the kallsyms symbol source, when the recording is symbolicated.
    """
    try:
        with open(path, "rb") as f:
            first = f.readline().split(b" ", 1)[0]
    except OSError:
        return False
    try:
        return int(first, 16) != 0
    except ValueError:
        return False
