"""`stax symbolize` on ELF answers what `addr2line -f -i -e` answers, instruction by instruction,
from the binary's own DWARF and from separate debug files; a debug file of another build is
refused in one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import stax
from tests.symbols.debug_workload import (
    HOT_FUNCTIONS,
    Chain,
    Variant,
    addr2line_chains,
    build_variant,
    instruction_addresses,
)


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Variant]:
    d = tmp_path_factory.mktemp("symbolize-elf")
    return {
        "linked": build_variant(d, "symbolize-linked", debuglink=True),
        "other": build_variant(d / "other", "symbolize-other"),
    }


def stax_chains(binary: Path, addresses: list[int], *extra: str) -> dict[int, Chain]:
    proc = stax("symbolize", str(binary), *(hex(a) for a in addresses), "--json", *extra)
    assert proc.stderr == ""
    return {
        int(r["address"], 16): [(f["function"], f["file"], f["line"]) for f in r["frames"]]
        for r in json.loads(proc.stdout)["addresses"]
    }


def assert_matches(binary: Path, twin: Path, *extra: str) -> None:
    addresses = instruction_addresses(twin, HOT_FUNCTIONS)
    assert len(addresses) > 30
    expected = addr2line_chains(twin, addresses)
    ours = stax_chains(binary, addresses, *extra)
    compared = 0
    for address in addresses:
        if expected[address][0][2] is None:
            continue  # addr2line has no line here either (padding)
        assert ours[address] == expected[address], hex(address)
        compared += 1
    assert compared >= 0.9 * len(addresses)
    assert any(len(c) == 3 for c in ours.values())  # mix_step in hot_inline in local_worker


def test_own_dwarf_matches_addr2line(variants: dict[str, Variant]) -> None:
    v = variants["linked"]
    assert_matches(v.twin, v.twin)


def test_stripped_binary_through_its_debuglink_matches_addr2line(variants: dict[str, Variant]) -> None:
    v = variants["linked"]
    assert_matches(v.stripped, v.twin)


def test_explicit_debug_file_matches_addr2line(variants: dict[str, Variant], tmp_path: Path) -> None:
    v = variants["other"]  # no debuglink: only --debug-file (or --debug-dir) can find it
    bare = stax_chains(v.stripped, instruction_addresses(v.twin, HOT_FUNCTIONS)[:5])
    assert all(len(c) <= 1 and (not c or c[0][1] is None) for c in bare.values())
    assert_matches(v.stripped, v.twin, "--debug-file", str(v.debug))


def test_text_output_is_addr2line_pretty_format(variants: dict[str, Variant]) -> None:
    v = variants["linked"]
    addresses = instruction_addresses(v.twin, HOT_FUNCTIONS)
    expected = addr2line_chains(v.twin, addresses)
    deep = next(a for a, c in expected.items() if len(c) == 3)
    out = stax("symbolize", str(v.twin), hex(deep)).stdout.splitlines()
    (f0, file0, line0), (f1, file1, line1), (f2, file2, line2) = expected[deep]
    assert out == [
        f"{deep:#x}: {f0} at {file0}:{line0}",
        f" (inlined by) {f1} at {file1}:{line1}",
        f" (inlined by) {f2} at {file2}:{line2}",
    ]


def test_debug_file_of_another_build_is_refused(variants: dict[str, Variant]) -> None:
    v, other = variants["linked"], variants["other"]
    proc = stax("symbolize", str(v.stripped), "0x1000", "--debug-file", str(other.debug), check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == (
        f"stax: {other.debug} is not the debug file of {v.stripped} (build id"
        f" {other.build_id.hex()}, expected {v.build_id.hex()}); give the one split"
        " from this build.\n"
    )
    proc = stax("symbolize", str(v.twin), "0x1000", "--arch", "arm64", check=False)
    assert proc.returncode == 2
    assert proc.stderr == f"stax: {v.twin} is an ELF file, which has one architecture; drop --arch.\n"


def test_command_comes_from_the_cli_hook_of_stax_symbols() -> None:
    """Core registers no `symbolize`: stax-symbols adds it through `stax_cli_commands`."""
    from stax.cli.app import BUILTIN_COMMANDS

    assert "symbolize" not in BUILTIN_COMMANDS
    assert "symbolize" in stax("--help").stdout
    plugins = stax("plugins").stdout
    line = next(row for row in plugins.splitlines() if "cli-symbolize" in row)
    assert "stax_cli_commands" in line
