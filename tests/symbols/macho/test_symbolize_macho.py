"""`stax symbolize` on real Mach-O files answers exactly what llvm-symbolizer answers.

Every instruction of ``__text`` of an -O2 build (with an always_inline function inlined into
another inline function) for arm64 and x86_64, thin and universal, through the binary's
dSYM; a stale dSYM is refused in one sentence.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.cli.conftest import stax
from tests.symbols.macho.macho_build import (
    ARCHES,
    Chain,
    MachoBuild,
    dwarf_file,
    instruction_addresses,
    symbolizer_chains,
)


def stax_chains(binary: Path, addresses: list[int], *extra: str) -> dict[int, Chain]:
    proc = stax("symbolize", str(binary), *(hex(a) for a in addresses), "--json", *extra)
    assert proc.stderr == ""
    rows = json.loads(proc.stdout)["addresses"]
    return {
        int(r["address"], 16): [(f["function"], f["file"], f["line"] or 0) for f in r["frames"]] for r in rows
    }


def compare(ours: dict[int, Chain], theirs: dict[int, Chain]) -> int:
    """Assert equal chains wherever llvm-symbolizer names the address; return how many inlined."""
    inlined = 0
    for address, want in theirs.items():
        got = ours[address]
        if want[0][1] is None:  # no line: llvm-symbolizer names it from the symbol table alone
            want = [(want[0][0], None, 0)]
        assert got == want, f"at {address:#x}"
        inlined += len(want) > 1
    return inlined


def test_every_instruction_matches_llvm_symbolizer(macho: MachoBuild) -> None:
    for arch in ARCHES:
        binary = macho.binaries[arch]
        addresses = instruction_addresses(binary)
        assert len(addresses) > 30
        theirs = symbolizer_chains(binary, addresses)
        inlined = compare(stax_chains(binary, addresses), theirs)
        # the nest is really there: mix_step inside hot_inline inside local_worker
        assert inlined > 5, arch
        assert any(
            [f for f, _, _ in c] == ["mix_step", "hot_inline", "local_worker"] for c in theirs.values()
        )


def test_universal_binary_with_arch(macho: MachoBuild) -> None:
    for arch in ARCHES:
        addresses = instruction_addresses(macho.binaries[arch])
        theirs = symbolizer_chains(macho.fat, addresses, arch=arch)
        assert compare(stax_chains(macho.fat, addresses, "--arch", arch), theirs) > 5
        out = json.loads(
            stax("symbolize", str(macho.fat), hex(addresses[0]), "--arch", arch, "--json").stdout
        )
        assert out["arch"] == arch and out["format"] == "macho"


def test_universal_binary_without_arch_is_one_sentence(macho: MachoBuild) -> None:
    proc = stax("symbolize", str(macho.fat), "0x100000400", check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == (
        f"stax: {macho.fat} is a universal binary (x86_64, arm64); choose one with --arch.\n"
    )
    proc = stax("symbolize", str(macho.fat), "0x100000400", "--arch", "ppc", check=False)
    assert proc.returncode == 1
    assert (
        proc.stderr.count("\n") == 1 and "has no ppc slice" in proc.stderr and "Traceback" not in proc.stderr
    )


def test_text_output_is_addr2line_pretty_format(macho: MachoBuild) -> None:
    binary = macho.binaries["arm64"]
    addresses = instruction_addresses(binary)
    theirs = symbolizer_chains(binary, addresses)
    deep = next(a for a, c in theirs.items() if len(c) == 3)
    out = stax("symbolize", str(binary), hex(deep)).stdout.splitlines()
    (f0, file0, line0), (f1, file1, line1), (f2, file2, line2) = theirs[deep]
    assert out == [
        f"{deep:#x}: {f0} at {file0}:{line0}",
        f" (inlined by) {f1} at {file1}:{line1}",
        f" (inlined by) {f2} at {file2}:{line2}",
    ]


def test_stale_dsym_given_explicitly_is_refused(macho: MachoBuild, macho_other: MachoBuild) -> None:
    binary = macho.binaries["arm64"]
    stale = macho_other.binaries["arm64"].parent / "prog-arm64.dSYM"
    proc = stax("symbolize", str(binary), "0x100000400", "--debug-file", str(stale), check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"stax: {stale} is not the dSYM of {binary} (UUID ")
    assert proc.stderr.endswith(f"), so it is not used; rebuild it with: dsymutil {binary}.\n")


def test_stale_dsym_beside_the_binary_warns_and_names_from_the_symbol_table(
    macho: MachoBuild, macho_other: MachoBuild, tmp_path: Path
) -> None:
    binary = tmp_path / "prog-arm64"
    shutil.copy(macho.binaries["arm64"], binary)
    shutil.copytree(macho_other.binaries["arm64"].parent / "prog-arm64.dSYM", tmp_path / "prog-arm64.dSYM")
    addresses = instruction_addresses(binary)
    deep = next(a for a, c in symbolizer_chains(macho.binaries["arm64"], addresses).items() if len(c) == 3)
    proc = stax("symbolize", str(binary), hex(deep), "--json")
    assert proc.stderr.count("\n") == 1 and "is not the dSYM of" in proc.stderr
    frames = json.loads(proc.stdout)["addresses"][0]["frames"]
    assert [(f["function"], f["file"]) for f in frames] == [("local_worker", None)]


def test_explicit_dsym_in_another_place(macho: MachoBuild, tmp_path: Path) -> None:
    binary = tmp_path / "prog-x86_64"
    shutil.copy(macho.binaries["x86_64"], binary)  # no dSYM beside this copy
    addresses = instruction_addresses(binary)
    theirs = symbolizer_chains(macho.binaries["x86_64"], addresses)
    bare = stax_chains(binary, addresses)
    assert all(c == [] or c[0][1] is None for c in bare.values())  # names, no lines
    dsym = dwarf_file(macho.binaries["x86_64"])  # the DWARF file itself works as well as the bundle
    assert compare(stax_chains(binary, addresses, "--debug-file", str(dsym)), theirs) > 5
    assert compare(stax_chains(binary, addresses, "--debug-dir", str(macho.directory)), theirs) > 5


def test_dylib_matches_llvm_symbolizer(macho: MachoBuild) -> None:
    addresses = instruction_addresses(macho.dylib)
    theirs = symbolizer_chains(macho.dylib, addresses)
    compare(stax_chains(macho.dylib, addresses), theirs)
    assert {c[-1][0] for c in theirs.values()} == {"lib_private", "lib_public", "lib_other"}


def test_bad_input_is_one_sentence(macho: MachoBuild, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    cases = [
        ((str(text), "0x10"), f"stax: {text} is not an ELF, Mach-O or dyld shared cache file.\n"),
        (
            (str(tmp_path / "missing"), "0x10"),
            f"stax: Cannot read {tmp_path / 'missing'}: No such file or directory.\n",
        ),
        ((str(macho.binaries["arm64"]), "zz"), "stax: 'zz' is not a hex address; write it like 0x1139.\n"),
    ]
    for args, expected in cases:
        proc = stax("symbolize", *args, check=False)
        assert proc.returncode == 2 and proc.stderr == expected and proc.stdout == ""
