"""The unwind tables of the ``[vdso]``, read from this process's own mapping.

The vDSO has no file: perf reports it as the mapping ``[vdso]``.  Every process on
this kernel with the same ABI maps the same image, so stax reads its own copy
(:func:`stax_binfmt.vdso.read_own_vdso`) and parses its ``.eh_frame``; the targets'
samples in ``clock_gettime`` and friends then unwind through it.
"""

from __future__ import annotations

from stax_backend_linux.unwind import ElfUnwindTables, UnwindTableError
from stax_binfmt.vdso import VDSO_NAME, read_own_vdso


def vdso_unwind_tables() -> ElfUnwindTables | None:
    """Parsed unwind tables of the vDSO (None: no vDSO, unreadable, or not x86-64 ELF)."""
    try:
        image = read_own_vdso()
    except OSError:
        return None
    if not image:
        return None
    try:
        return ElfUnwindTables.from_bytes(image, VDSO_NAME)
    except UnwindTableError:
        return None
