"""Which instruction set a binary holds, from its own header: never the host's.

ELF says it in ``e_machine`` (gABI, "ELF Header"); Mach-O in the ``cputype`` and
``cpusubtype`` of its header, which :func:`stax_symbols.macho.load_commands.arch_name`
spells as Apple's tools do (``arm64``, ``arm64e``, ``x86_64``, ``x86_64h``).  Both map onto
the architecture names core's disassembler decodes (:mod:`stax.analysis.disassembly`),
so an aarch64 binary annotates on an x86-64 host, and a Mach-O code source needs only
:func:`arch_of_macho`.
"""

from __future__ import annotations

from stax.function_code import ARCH_AARCH64, ARCH_X86_64

ELF_MACHINES = {"EM_X86_64": ARCH_X86_64, "EM_AARCH64": ARCH_AARCH64}
"""pyelftools' ``e_machine`` names -> architecture."""

MACHO_ARCHES = {"arm64": ARCH_AARCH64, "arm64e": ARCH_AARCH64, "x86_64": ARCH_X86_64,
                "x86_64h": ARCH_X86_64}
"""Mach-O arch names (``arch_name``) -> architecture; arm64e's pointer authentication
instructions decode as aarch64."""


def arch_of_elf_machine(machine: str) -> str | None:
    """The architecture of an ELF file's code, or None for one stax does not decode."""
    return ELF_MACHINES.get(machine)


def arch_of_macho(arch_name: str) -> str | None:
    """The architecture of a Mach-O image's code (arm64 and x86_64 flavours), or None."""
    return MACHO_ARCHES.get(arch_name)
