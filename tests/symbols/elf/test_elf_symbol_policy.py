"""Which ELF symbols count and how far they reach, on assembly written to exercise each rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stax_symbols.elf.memo import ElfMemo
from tests.symbols.built_objects import run

# x86-64 assembly: sized and unsized functions, a sized NOTYPE, an unsized label, aliases.
ASSEMBLY = r"""
    .text
    .globl sized_fn
    .type sized_fn, @function
sized_fn:
    nop; nop; nop; nop
    ret
    .size sized_fn, 5
    .p2align 4
padding_after_sized:
    nop; nop; nop; nop; nop; nop; nop; nop
    .globl unsized_fn
    .type unsized_fn, @function
unsized_fn:
    nop; nop; nop; nop; nop; nop; nop; nop
local_label:
    nop; nop; nop; nop; nop; nop; nop; nop
    .globl sized_notype
sized_notype:
    nop; nop; nop; nop; nop; nop; nop
    ret
    .size sized_notype, 8
    .globl alias_global
    .weak alias_weak
    .type alias_global, @function
    .type alias_weak, @function
    .type __alias_local, @function
alias_weak:
__alias_local:
alias_global:
    nop; nop; nop
    ret
    .size alias_global, 4
    .size alias_weak, 4
    .size __alias_local, 4
    .section .note.GNU-stack,"",@progbits
"""


@pytest.fixture(scope="module")
def policy_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = shutil.which("gcc")
    if cc is None:
        pytest.fail("gcc is required for the symbol tests")
    d = tmp_path_factory.mktemp("policy")
    (d / "policy.s").write_text(ASSEMBLY)
    run(cc, "-shared", "-nostdlib", "-Wl,--build-id", "-o", d / "libpolicy.so", d / "policy.s")
    return d / "libpolicy.so"


def test_policy(policy_lib: Path) -> None:
    loaded = ElfMemo().load(str(policy_lib))
    addr = {line.split()[2]: int(line.split()[0], 16) for line in run("nm", policy_lib).splitlines()}
    assert {"local_label", "padding_after_sized", "unsized_fn", "alias_weak"} <= set(addr)

    lookup = loaded.functions.lookup
    assert lookup(addr["sized_fn"] + 4) == ("sized_fn", 4)
    # past the 5 bytes of sized_fn, in padding with an unsized NOTYPE label: nothing
    assert lookup(addr["sized_fn"] + 5) is None
    assert lookup(addr["sized_fn"] + 0x10) is None
    # an unsized FUNC reaches to the next symbol, across the unsized label inside it
    assert lookup(addr["unsized_fn"] + 12) == ("unsized_fn", 12)
    # a sized NOTYPE is a function; it ends the unsized one before it
    assert lookup(addr["sized_notype"]) == ("sized_notype", 0)
    assert lookup(addr["sized_notype"] - 1) == ("unsized_fn", addr["sized_notype"] - 1 - addr["unsized_fn"])
    # aliases: GLOBAL over WEAK over LOCAL
    assert lookup(addr["alias_global"] + 1) == ("alias_global", 1)
    # the last unsized function of a section stops at the end of the section
    assert lookup(addr["alias_global"] + 4) is None
