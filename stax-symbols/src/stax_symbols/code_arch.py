"""Which instruction set a binary holds, from its own header: never the host's.

ELF says it in ``e_machine`` (gABI, "ELF Header"); Mach-O in the ``cputype`` of its
header (``mach/machine.h``).  Both map onto the architecture names core's
disassembler decodes (:mod:`stax.analysis.disassembly`), so an aarch64 binary
annotates on an x86-64 host and a Mach-O code source needs nothing more than
:func:`arch_of_macho_cputype`.
"""

from __future__ import annotations

from stax.function_code import ARCH_AARCH64, ARCH_X86_64

ELF_MACHINES = {"EM_X86_64": ARCH_X86_64, "EM_AARCH64": ARCH_AARCH64}
"""pyelftools' ``e_machine`` names -> architecture."""

CPU_ARCH_ABI64 = 0x01000000
CPU_TYPE_X86_64 = 7 | CPU_ARCH_ABI64
CPU_TYPE_ARM64 = 12 | CPU_ARCH_ABI64
MACHO_CPU_TYPES = {CPU_TYPE_X86_64: ARCH_X86_64, CPU_TYPE_ARM64: ARCH_AARCH64}


def arch_of_elf_machine(machine: str) -> str | None:
    """The architecture of an ELF file's code, or None for one stax does not decode."""
    return ELF_MACHINES.get(machine)


def arch_of_macho_cputype(cputype: int) -> str | None:
    """The architecture of a Mach-O file's code (arm64 and x86_64), or None."""
    return MACHO_CPU_TYPES.get(cputype)
