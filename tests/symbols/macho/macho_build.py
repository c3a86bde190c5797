"""Real Mach-O files built here with clang, ld64.lld, dsymutil and llvm-lipo (no macOS SDK:
freestanding objects, our own ``_main`` entry, no libSystem), and the answers of LLVM's own
tools for them (``llvm-symbolizer``, ``llvm-objdump --unwind-info`` / ``--dwarf=frames``),
which the tests compare stax with; expected values never come from the code under test.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import attrs
import pytest

from tests.symbols.debug_workload import INLINED_CODE

ARCHES = ("arm64", "x86_64")

PROG_SOURCE = INLINED_CODE + r"""
extern long odd_frame(long);

int main(void) {
    return (exported_driver(3, 20000) + (int)odd_frame(sink)) & 1;
}
"""

# A function whose unwind rules compact unwind cannot express (arm64: one register saved
# alone; x86_64: a register kept in another register), so the linker gives it a DWARF-mode
# encoding pointing at its FDE in __eh_frame.
ODD_FRAME = {
    "arm64": """
	.section __TEXT,__text,regular,pure_instructions
	.globl _odd_frame
	.p2align 2
_odd_frame:
	.cfi_startproc
	sub sp, sp, #32
	.cfi_def_cfa_offset 32
	str x19, [sp, #8]
	.cfi_offset w19, -24
	mov x19, x0
	add x0, x19, #1
	ldr x19, [sp, #8]
	add sp, sp, #32
	ret
	.cfi_endproc
""",
    "x86_64": """
	.section __TEXT,__text,regular,pure_instructions
	.globl _odd_frame
	.p2align 4
_odd_frame:
	.cfi_startproc
	pushq %rbx
	.cfi_def_cfa_offset 16
	.cfi_offset %rbx, -16
	movq %rdi, %r11
	.cfi_register %rbx, %r11
	leaq 1(%r11), %rax
	popq %rbx
	.cfi_def_cfa_offset 8
	retq
	.cfi_endproc
""",
}

LIB_SOURCE = r"""
static int __attribute__((noinline)) lib_private(int x) { return x * 7 + 3; }
int __attribute__((noinline)) lib_public(int x) { return lib_private(x) + 1; }
int __attribute__((noinline)) lib_other(int x) { return lib_public(x) * 2; }
"""


def tool(*names: str) -> str:
    """The first of ``names`` on PATH; the test fails (not skips) without it."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        f"none of {', '.join(names)} is installed (bash scripts/bootstrap.sh installs clang, lld-19, llvm)"
    )


def ld64() -> str:
    """ld64.lld from LLVM 15 or later: lld 14 leaves __eh_frame unrelocated in Mach-O output."""
    return tool("ld64.lld-19", "ld64.lld-18", "ld64.lld-17", "ld64.lld-16", "ld64.lld-15")


def run(*argv: str | Path, **kwargs: object) -> str:
    return subprocess.run([str(a) for a in argv], check=True, capture_output=True, text=True, **kwargs).stdout  # type: ignore[call-overload]


@attrs.frozen
class MachoBuild:
    """One build: thin binaries and dSYMs per arch, a universal binary with a universal dSYM, a dylib."""

    directory: Path
    binaries: dict[str, Path]
    fat: Path
    dylib: Path


def build(directory: Path, tag: str) -> MachoBuild:
    """Compile, link, dsymutil and lipo one variant (``tag`` makes its UUIDs unique)."""
    directory.mkdir(parents=True, exist_ok=True)
    clang, lipo, dsymutil = tool("clang"), tool("llvm-lipo", "llvm-lipo-14"), tool("dsymutil")
    (directory / "prog.c").write_text(PROG_SOURCE)
    (directory / "lib.c").write_text(LIB_SOURCE)
    binaries = {}
    for arch in ARCHES:
        target = f"{arch}-apple-macos13"
        obj = directory / f"prog-{arch}.o"
        run(
            clang,
            "-target",
            target,
            "-O2",
            "-g",
            "-fasynchronous-unwind-tables",
            f'-DVARIANT_TAG="{tag}"',
            "-c",
            directory / "prog.c",
            "-o",
            obj,
        )
        (directory / f"odd-{arch}.s").write_text(ODD_FRAME[arch])
        run(clang, "-target", target, "-c", directory / f"odd-{arch}.s", "-o", directory / f"odd-{arch}.o")
        binary = directory / f"prog-{arch}"
        run(
            ld64(),
            "-arch",
            arch,
            "-platform_version",
            "macos",
            "13.0",
            "13.0",
            "-e",
            "_main",
            "-o",
            binary,
            obj,
            directory / f"odd-{arch}.o",
        )
        run(dsymutil, binary, "-o", f"{binary}.dSYM")
        binaries[arch] = binary
    fat = directory / "prog-fat"
    run(lipo, "-create", *binaries.values(), "-output", fat)
    # dsymutil makes a universal dSYM by calling Apple's lipo, which Linux has not: lipo the
    # thin dSYMs' DWARF files into the bundle instead (the same file Xcode ends up with).
    dwarf_dir = directory / "prog-fat.dSYM" / "Contents" / "Resources" / "DWARF"
    dwarf_dir.mkdir(parents=True, exist_ok=True)
    run(lipo, "-create", *(dwarf_file(b) for b in binaries.values()), "-output", dwarf_dir / "prog-fat")
    run(
        clang,
        "-target",
        "arm64-apple-macos13",
        "-O1",
        "-g",
        "-c",
        directory / "lib.c",
        "-o",
        directory / "lib.o",
    )
    dylib = directory / "libdemo.dylib"
    run(
        ld64(),
        "-dylib",
        "-arch",
        "arm64",
        "-platform_version",
        "macos",
        "13.0",
        "13.0",
        "-install_name",
        "/usr/lib/libdemo.dylib",
        "-o",
        dylib,
        directory / "lib.o",
    )
    run(dsymutil, dylib, "-o", f"{dylib}.dSYM")
    return MachoBuild(directory, binaries, fat, dylib)


def dwarf_file(binary: Path) -> Path:
    return binary.parent / f"{binary.name}.dSYM" / "Contents" / "Resources" / "DWARF" / binary.name


def instruction_addresses(binary: Path, arch: str | None = None) -> list[int]:
    """Every instruction address ``llvm-objdump -d`` disassembles in ``__text``."""
    args = [f"--arch-name={arch}"] if arch else []
    text = run(tool("llvm-objdump"), "-d", "--no-show-raw-insn", *args, binary)
    return [int(m.group(1), 16) for m in re.finditer(r"^\s*([0-9a-f]+):", text, re.M)]


Chain = list[tuple[str, str | None, int | None]]


def symbolizer_chains(
    binary: Path, addresses: Sequence[int], arch: str | None = None, dsym: Path | None = None
) -> dict[int, Chain]:
    """``llvm-symbolizer`` per address: [(function, file, line)], innermost first."""
    args = ["--inlining", "--functions=linkage", f"--obj={binary}"]
    if arch:
        args.append(f"--default-arch={arch}")
    if dsym:
        args.append(f"--dsym-hint={dsym}")
    out = run(tool("llvm-symbolizer"), *args, input="\n".join(hex(a) for a in addresses) + "\n")
    chains: dict[int, Chain] = {}
    for address, block in zip(addresses, out.strip("\n").split("\n\n"), strict=True):
        lines = block.splitlines()
        chain: Chain = []
        for i in range(0, len(lines), 2):
            file, line, _column = lines[i + 1].rsplit(":", 2)
            chain.append((lines[i], None if file == "??" else file, int(line)))
        chains[address] = chain
    return chains


@attrs.frozen
class ObjdumpUnwind:
    common: list[int]
    index: list[tuple[int, int, int]]
    entries: list[tuple[int, int]]


def objdump_unwind_info(binary: Path) -> ObjdumpUnwind:
    """What ``llvm-objdump --unwind-info`` prints: common encodings, top-level index,
    and every second-level (function offset, encoding)."""
    text = run(tool("llvm-objdump"), "--unwind-info", binary)
    common = [int(v, 16) for v in re.findall(r"^\s+encoding\[\d+\]: (0x[0-9a-f]+)$", text, re.M)]
    index = [
        (int(a, 16), int(b, 16), int(c, 16))
        for a, b, c in re.findall(
            r"\[\d+\]: function offset=(0x[0-9a-f]+), 2nd level page offset=(0x[0-9a-f]+),"
            r" LSDA offset=(0x[0-9a-f]+)",
            text,
        )
    ]
    entries = [
        (int(a, 16), int(b, 16))
        for a, b in re.findall(
            r"\[\d+\]: function offset=(0x[0-9a-f]+), encoding(?:\[\d+\])?=(0x[0-9a-f]+)", text
        )
    ]
    return ObjdumpUnwind(common, index, entries)


def objdump_fdes(binary: Path) -> list[tuple[int, int, int]]:
    """(offset in __eh_frame, pc begin, pc end) of each FDE ``llvm-objdump --dwarf=frames`` lists."""
    text = run(tool("llvm-objdump"), "--dwarf=frames", binary)
    eh = text.split(".eh_frame contents:", 1)[1]
    return [
        (int(o, 16), int(b, 16), int(e, 16))
        for o, b, e in re.findall(
            r"^([0-9a-f]{8}) [0-9a-f]+ [0-9a-f]+ FDE cie=[0-9a-f]+ pc=([0-9a-f]+)\.\.\.([0-9a-f]+)$", eh, re.M
        )
    ]


def objdump_cfa_rows(binary: Path) -> dict[int, tuple[int, int]]:
    """pc -> (CFA register, CFA offset) of every row llvm-objdump prints for __eh_frame FDEs."""
    text = run(tool("llvm-objdump"), "--dwarf=frames", binary).split(".eh_frame contents:", 1)[1]
    return {
        int(pc, 16): (int(reg), int(off or 0))
        for pc, reg, off in re.findall(r"^\s+0x([0-9a-f]+): CFA=reg(\d+)([+-]\d+)?", text, re.M)
    }
