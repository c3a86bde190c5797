"""The architecture of code comes from the binary's header, never from the host."""

from __future__ import annotations

from stax.analysis.disassembly import ARCHITECTURES, UnsupportedArchitecture, disassembler
from stax_symbols.code_arch import arch_of_elf_machine, arch_of_macho
from stax_symbols.macho.load_commands import arch_name


def test_architecture_from_the_binary_header() -> None:
    """ELF e_machine and Mach-O arch names (as the Mach-O reader spells them) map onto the
    architectures the disassembler decodes; anything else is None, not the host's."""
    assert arch_of_elf_machine("EM_X86_64") == "x86_64" and arch_of_elf_machine("EM_AARCH64") == "aarch64"
    assert arch_of_elf_machine("EM_RISCV") is None
    assert arch_of_macho(arch_name(0x0100000C, 2)) == "aarch64"  # CPU_TYPE_ARM64, arm64e
    assert arch_of_macho(arch_name(0x01000007, 3)) == "x86_64"  # CPU_TYPE_X86_64
    assert arch_of_macho(arch_name(12, 9)) is None  # 32-bit ARM
    assert {"x86_64", "aarch64"} <= set(ARCHITECTURES)


def test_an_architecture_without_a_decoder_is_one_sentence() -> None:
    try:
        disassembler("riscv64")
    except UnsupportedArchitecture as exc:
        assert str(exc) == "Cannot disassemble riscv64 code; stax decodes aarch64, x86_64."
    else:
        raise AssertionError("riscv64 decoded")
