"""The unwind tables of the ``[vdso]``, read from this process's own mapping.

The vDSO has no file: perf reports it as the mapping ``[vdso]``.  Every process on
this kernel with the same ABI maps the same image, so stax reads its own copy (from
/proc/self/mem at the range /proc/self/maps gives) and parses its ``.eh_frame``; the
targets' samples in ``clock_gettime`` and friends then unwind through it.
"""

from __future__ import annotations

import os

from stax_backend_linux.unwind import ElfUnwindTables, UnwindTableError

VDSO_NAME = "[vdso]"


def own_vdso_range(maps_path: str = "/proc/self/maps") -> tuple[int, int] | None:
    """(start, end) of this process's ``[vdso]`` mapping, or None if there is none."""
    try:
        with open(maps_path) as maps:
            for line in maps:
                if line.rstrip().endswith(VDSO_NAME):
                    start, end = line.split(None, 1)[0].split("-")
                    return int(start, 16), int(end, 16)
    except OSError:
        return None
    return None


def read_own_vdso() -> bytes | None:
    """The bytes of this process's vDSO image, or None where they cannot be read."""
    found = own_vdso_range()
    if found is None:
        return None
    start, end = found
    try:
        fd = os.open("/proc/self/mem", os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.pread(fd, end - start, start)
    except OSError:
        return None
    finally:
        os.close(fd)


def vdso_unwind_tables() -> ElfUnwindTables | None:
    """Parsed unwind tables of the vDSO (None: no vDSO, unreadable, or not x86-64 ELF)."""
    image = read_own_vdso()
    if not image:
        return None
    try:
        return ElfUnwindTables.from_bytes(image, VDSO_NAME)
    except UnwindTableError:
        return None
