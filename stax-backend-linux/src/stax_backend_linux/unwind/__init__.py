"""User-space DWARF unwinding: replay a stack walk from sampled registers and a stack copy.

The capture side (``perf_event_open`` with PERF_SAMPLE_REGS_USER and
PERF_SAMPLE_STACK_USER) calls, per process and per sample::

    resolver = ModuleResolver.from_image_loads(loads, pid=pid)   # once per address space
    layout = PerfRegisterLayout(attr.sample_regs_user)           # once per event
    result = unwind(layout.dwarf_registers(values), stack_bytes[:dyn_size], resolver)

and gets the user return addresses leaf first.  Unwind tables are parsed once per
ELF file (:class:`UnwindTableCache`, keyed by build id or file identity) and each
function's CFA program once; a repeated pc costs one dict lookup.
"""

from __future__ import annotations

from stax_backend_linux.unwind.elf_unwind_tables import (
    ElfUnwindTables,
    UnwindTableCache,
    default_table_cache,
)
from stax_backend_linux.unwind.module_resolver import Module, ModuleResolver
from stax_backend_linux.unwind.unwinder import StopReason, UnwindResult, unwind
from stax_binfmt.cfi.errors import UnwindTableError
from stax_binfmt.cfi.x86_64_registers import PerfRegisterLayout
from stax_binfmt.perf_regs import PERF_REGS_USER_MASK_X86_64, regs_from_perf

__all__ = [
    "PERF_REGS_USER_MASK_X86_64",
    "ElfUnwindTables",
    "Module",
    "ModuleResolver",
    "PerfRegisterLayout",
    "StopReason",
    "UnwindResult",
    "UnwindTableCache",
    "UnwindTableError",
    "default_table_cache",
    "regs_from_perf",
    "unwind",
]
