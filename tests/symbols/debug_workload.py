"""A C program with inlined hot code, built and split the ways debug info ships, and addr2line's
answers for it (the expected values never come from the code under test).

``build_variant`` compiles one variant (``-DVARIANT=n`` makes its build id unique, so core's
build-id cache never mixes variants up), keeps the unstripped twin for addr2line, and
produces the stripped binary plus its ``--only-keep-debug`` file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import attrs

from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind
from stax.plugin_manager import StaxPlugins
from stax.stack_table import Image
from tests.symbols.built_objects import build_id_of, file_offset_of, nm_functions

INLINED_CODE = r"""
volatile int sink;
const char *variant_tag = "variant " VARIANT_TAG;

/* Forced inline at every call: samples in it must show it as an inline frame. */
static inline __attribute__((always_inline)) int mix_step(int s, int i) {
    s += i * i ^ (s >> 3);
    sink = s;
    return s;
}

static inline __attribute__((always_inline)) int hot_inline(int n) {
    int s = 0;
    for (int i = 0; i < n; i++)
        s = mix_step(s, i);
    return s;
}

/* Local: strip removes its name; only debug info can give it back. */
static __attribute__((noinline)) int local_worker(int n) {
    return hot_inline(n) + 1;
}

__attribute__((noinline)) int exported_driver(int rounds, int n) {
    long total = 0;
    for (int r = 0; r < rounds; r++)
        total += local_worker(n);
    return (int)(total & 0x7fffffff);
}
"""
"""The functions every debug-info test names: a forced-inline nest in a local function, freestanding
(no headers), so the Mach-O tests build it too (``tests/symbols/macho/macho_build.py``)."""

SOURCE = "#include <stdio.h>\n#include <stdlib.h>\n" + INLINED_CODE + r"""
int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    printf("%d\n", exported_driver(rounds, 20000));
    return 0;
}
"""

HOT_FUNCTIONS = ("local_worker", "exported_driver", "main")
"""Functions whose every instruction is compared with addr2line."""


@attrs.frozen
class Variant:
    """One build: ``twin`` keeps everything, ``stripped`` + ``debug`` are the split pair."""

    twin: Path
    stripped: Path
    debug: Path
    build_id: bytes


def run(*argv: str | Path, **kwargs: object) -> str:
    return subprocess.run([str(a) for a in argv], check=True, capture_output=True, text=True,
                          **kwargs).stdout  # type: ignore[call-overload]


def build_variant(directory: Path, tag: str, *flags: str, debuglink: bool = False) -> Variant:
    """Compile (exporting its global functions, so the stripped copy still names them), split
    with objcopy, strip; optionally add a .gnu_debuglink to the debug file."""
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / f"{tag}.c"
    source.write_text(SOURCE)
    twin = directory / f"{tag}.full"
    run("gcc", "-g", "-O2", "-rdynamic", f'-DVARIANT_TAG="{tag}"', "-Wl,--build-id", *flags,
        "-o", twin, source)
    debug = directory / f"{tag}.debug"
    run("objcopy", "--only-keep-debug", twin, debug)
    stripped = directory / tag
    shutil.copy(twin, stripped)
    run("strip", "--strip-all", stripped)
    if debuglink:
        run("objcopy", f"--add-gnu-debuglink={debug}", stripped)
    return Variant(twin, stripped, debug, build_id_of(twin))


def install_build_id_path(root: Path, variant: Variant, debug_file: Path | None = None) -> Path:
    """Put a debug file where ``<root>/.build-id/xx/rest.debug`` names ``variant``."""
    hex_id = variant.build_id.hex()
    target = root / ".build-id" / hex_id[:2] / f"{hex_id[2:]}.debug"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(debug_file or variant.debug, target)
    return target


def instruction_addresses(binary: Path, functions: Iterable[str]) -> list[int]:
    """Every instruction address objdump disassembles inside ``functions``."""
    symbols = nm_functions(binary)
    text = run("objdump", "-d", "--no-show-raw-insn", binary)
    addresses = [int(m.group(1), 16) for m in re.finditer(r"^\s+([0-9a-f]+):", text, re.M)]
    ranges = [symbols[f] for f in functions]
    return [a for a in addresses if any(start <= a < start + size for start, size in ranges)]


Chain = list[tuple[str, str | None, int | None]]


def addr2line_chains(binary: Path, addresses: Sequence[int]) -> dict[int, Chain]:
    """``addr2line -f -i`` per address: [(function, file, line)] innermost first."""
    out = run("addr2line", "-f", "-i", "-a", "-e", binary, input="\n".join(hex(a) for a in addresses))
    chains: dict[int, Chain] = {}
    current: Chain = []
    lines = out.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("0x"):
            current = chains.setdefault(int(lines[i], 16), [])
            i += 1
            continue
        where = lines[i + 1].split(" (discriminator")[0]
        file, _, line = where.rpartition(":")
        current.append((lines[i], None if file == "??" else file, None if line in ("?", "0") else int(line)))
        i += 2
    return chains


def as_chain(infos: Sequence[SymbolInfo]) -> Chain:
    return [(s.function, s.file, s.line) for s in infos]


def offsets_for(binary: Path, addresses: Iterable[int]) -> dict[int, int]:
    """ELF virtual address -> file offset (what frames carry)."""
    return {a: file_offset_of(binary, a) for a in addresses}


def symbolicate_like_core(
    image: Image, offsets: Sequence[int], options: Mapping[str, object], cache_dir: Path
) -> tuple[dict[int, Sequence[SymbolInfo]], list[str]]:
    """Ask the installed sources in order, first answer per offset wins (as core does, minus
    core's cross-run cache): returns the chains and the warnings."""
    context = SymbolContext(cache_dir=cache_dir, options=dict(options))
    wanted = list(offsets)
    found: dict[int, Sequence[SymbolInfo]] = {}
    for source in StaxPlugins().symbol_sources():
        if not wanted:
            break
        answer = source.symbolicate(image, wanted, context)
        found.update({o: c for o, c in answer.items() if c})
        wanted = [o for o in wanted if o not in found]
    return found, context.warnings


def elf_image(path: Path, build_id: bytes | None, image_id: int = 0) -> Image:
    return Image(image_id, str(path), ImageKind.ELF, build_id)


def reset_process_memos() -> None:
    """Forget parsed files and searches, as a new process would."""
    from stax_symbols.debug_files.locator import PROCESS_LOCATOR
    from stax_symbols.dwarf.memo import PROCESS_DWARF_MEMO
    from stax_symbols.elf.memo import PROCESS_MEMO

    PROCESS_LOCATOR.clear()
    PROCESS_DWARF_MEMO.clear()
    PROCESS_MEMO.clear()


def assert_matches_addr2line(
    binary: Path, twin: Path, build_id: bytes, cache: Path, options: Mapping[str, object] | None = None
) -> dict[int, Chain]:
    """Resolve every hot instruction of ``binary`` and assert each chain equals addr2line's."""
    addresses = instruction_addresses(twin, HOT_FUNCTIONS)
    assert len(addresses) > 30
    expected = addr2line_chains(twin, addresses)
    to_offset = offsets_for(twin, addresses)
    started = time.perf_counter()
    found, warnings = symbolicate_like_core(elf_image(binary, build_id), list(to_offset.values()),
                                            options or {}, cache)
    elapsed = time.perf_counter() - started
    assert warnings == []
    compared = {}
    for address in addresses:
        want = expected[address]
        if want[0][2] is None:
            continue  # addr2line has no line here either (padding)
        got = as_chain(found.get(to_offset[address], ()))
        assert got == want, f"{binary.name} at {address:#x}"
        compared[address] = got
    assert len(compared) >= 0.9 * len(addresses)
    print(f"{binary.name}: {len(addresses)} addresses in {elapsed * 1e3:.1f} ms")
    return compared
