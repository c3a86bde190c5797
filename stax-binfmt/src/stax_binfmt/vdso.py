"""This process's own ``[vdso]``: the ELF image the kernel maps into every process of one ABI.

The vDSO has no file: perf reports it as the mapping ``[vdso]``.  Every process on this
kernel with the same ABI maps the same image, so stax reads its own copy (the range
/proc/self/maps gives, from /proc/self/mem) to unwind through it and to name its frames.
"""

from __future__ import annotations

import os
from pathlib import Path

VDSO_NAME = "[vdso]"
MAPS_PATH = Path("/proc/self/maps")
MEM_PATH = Path("/proc/self/mem")


def own_vdso_range(maps: Path = MAPS_PATH) -> tuple[int, int] | None:
    """(start, end) of this process's ``[vdso]`` mapping, or None if it has none (raises OSError)."""
    with open(maps) as lines:
        for line in lines:
            if line.rstrip().endswith(VDSO_NAME):
                start, end = line.split(None, 1)[0].split("-")
                return int(start, 16), int(end, 16)
    return None


def read_own_vdso(maps: Path = MAPS_PATH, mem: Path = MEM_PATH) -> bytes | None:
    """The bytes of this process's vDSO image; None if it has none (booted with vdso=0?).

    Raises OSError when /proc/self/maps or /proc/self/mem cannot be read.
    """
    found = own_vdso_range(maps)
    if found is None:
        return None
    start, end = found
    fd = os.open(mem, os.O_RDONLY)
    try:
        return os.pread(fd, end - start, start)
    finally:
        os.close(fd)
