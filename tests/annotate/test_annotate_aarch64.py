"""aarch64 functions built with aarch64-linux-gnu-gcc, samples placed on known addresses.

Annotated on this x86-64 host: the architecture comes from the ELF header.  Every
instruction is checked against aarch64-linux-gnu-objdump, every source line (and
inline chain) against aarch64-linux-gnu-addr2line.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import attrs
import pytest

from stax.analysis.annotation import FunctionRef
from stax.analysis.annotator import Annotator
from stax.recording.reader import Recording
from tests.annotate.conftest import stax
from tests.annotate.elf_recording import write_elf_recording
from tests.annotate.objdump_listing import instructions_agree, objdump_function, symbol_range

SOURCE = Path(__file__).resolve().parent / "workloads" / "aarch64_functions.c"
CROSS = "aarch64-linux-gnu-"
FUNCTIONS = ("helper", "sum_squares", "mix", "_start")


@attrs.frozen
class Built:
    binary: Path
    listing: dict[str, list[tuple[int, str, str]]]
    """objdump's instructions of each function, within its symbol's size."""
    recording: Path
    placed: dict[int, int]
    """address -> samples placed there."""


def _tool(name: str) -> str:
    path = shutil.which(CROSS + name)
    if path is None:
        pytest.fail(f"{CROSS}{name} is missing; run scripts/bootstrap.sh (apt-get install"
                    " gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu)")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    d = tmp_path_factory.mktemp("aarch64")
    binary = d / "functions"
    subprocess.run([_tool("gcc"), "-O2", "-g", "-fno-omit-frame-pointer", "-ffreestanding",
                    "-nostdlib", "-static", "-Wl,--build-id", "-o", str(binary), str(SOURCE)],
                   check=True)
    listing = {}
    for name in FUNCTIONS:
        start, size = symbol_range(_tool("nm"), binary, name)
        listing[name] = [row for row in objdump_function(_tool("objdump"), binary, name)
                         if row[0] < start + size]
    # a different number of samples on every instruction: instruction k of a function gets k + 1
    placed = {address: k + 1 for rows in listing.values() for k, (address, _, _) in enumerate(rows)}
    call_helper = next(a for a, m, _ in listing["sum_squares"] if m == "bl")
    blocked = [((listing["helper"][0][0], call_helper + 4), 7_000_000)] * 3
    recording = write_elf_recording(d / "functions.stax", binary,
                                    {(address,): n for address, n in placed.items()}, blocked)
    return Built(binary, listing, recording, placed)


def annotated(built: Built, name: str, *args: str) -> dict:
    document = json.loads(stax("annotate", str(built.recording), name, "--json", *args).stdout)
    (function,) = document["functions"]
    return function


def addr2line(binary: Path, addresses: list[int]) -> dict[int, list[tuple[str, str, int | None]]]:
    """address -> [(function, file, line)] innermost first, as ``addr2line -f -i`` prints them."""
    out = subprocess.run([_tool("addr2line"), "-e", str(binary), "-a", "-f", "-i",
                          *(f"{a:#x}" for a in addresses)], check=True, capture_output=True,
                         text=True).stdout.splitlines()
    chains: dict[int, list[tuple[str, str, int | None]]] = {}
    current: list[tuple[str, str, int | None]] = []
    lines = iter(out)
    for line in lines:
        if line.startswith("0x"):
            current = chains.setdefault(int(line, 16), [])
            continue
        location = next(lines)
        file, _, number = re.sub(r" \(discriminator \d+\)$", "", location).rpartition(":")
        current.append((line, file, int(number) if number.isdigit() and number != "0" else None))
    return chains


@pytest.mark.parametrize("name", FUNCTIONS)
def test_instructions_match_objdump(built: Built, name: str) -> None:
    function = annotated(built, name)
    assert function["arch"] == "aarch64" and function["code_origin"] == "recording"
    theirs = built.listing[name]
    ours = function["instructions"]
    assert [i["address"] for i in ours] == [address for address, _, _ in theirs]
    for insn, (address, mnemonic, operands) in zip(ours, theirs, strict=True):
        assert insn["mnemonic"] == mnemonic, hex(address)
        assert instructions_agree("aarch64", (insn["mnemonic"], insn["operands"]), (mnemonic, operands)), \
            (hex(address), insn["operands"], operands)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_source_lines_and_inlines_match_addr2line(built: Built, name: str) -> None:
    function = annotated(built, name)
    expected = addr2line(built.binary, [i["address"] for i in function["instructions"]])
    inlined_somewhere = False
    for insn in function["instructions"]:
        chain = expected[insn["address"]]
        innermost_function, file, line = chain[0]
        assert insn["source"] is not None, hex(insn["address"])
        assert (insn["source"]["file"], insn["source"]["line"]) == (file, line), hex(insn["address"])
        ours = [(c["function"], c["call_file"], c["call_line"]) for c in insn["inlined"]]
        # addr2line: each inlined function with its own line, then its caller at the call line
        theirs = [(chain[k][0], chain[k + 1][1], chain[k + 1][2]) for k in range(len(chain) - 1)]
        assert ours == theirs, hex(insn["address"])
        assert chain[-1][0] == name
        inlined_somewhere |= bool(ours)
    assert inlined_somewhere or name != "sum_squares", "square() should be inlined in sum_squares"


def test_counts_land_on_the_placed_addresses(built: Built) -> None:
    for name in FUNCTIONS:
        function = annotated(built, name)
        for insn in function["instructions"]:
            assert insn["count"] == built.placed[insn["address"]], hex(insn["address"])
        assert function["count"] == sum(i["count"] for i in function["instructions"])
        assert function["count"] == sum(built.placed[a] for a, _, _ in built.listing[name])


def test_calls_and_branches_are_named(built: Built) -> None:
    function = annotated(built, "_start")
    calls = [i["target_label"] for i in function["instructions"] if i["kind"] == "call"]
    assert calls == ["sum_squares", "mix"]
    loop = annotated(built, "sum_squares")
    branches = [i for i in loop["instructions"] if i["kind"] == "branch"]
    assert branches and all(b["target_label"].startswith("sum_squares+0x") for b in branches)


def test_off_cpu_weighs_the_call_site(built: Built) -> None:
    function = annotated(built, "sum_squares", "--off-cpu")
    (site,) = [i for i in function["instructions"] if i["weight"]]
    assert site["mnemonic"] == "bl" and site["target_label"] == "helper"
    assert (site["count"], site["weight"]) == (3, 21_000_000)


def test_the_python_api_gives_the_same_data(built: Built) -> None:
    """What the web UI uses: Annotator -> summaries -> AnnotatedFunction.to_dict()."""
    recording = Recording.open(built.recording)
    try:
        annotator = Annotator(recording, code_sources=[])
        hottest = annotator.hottest(2)
        assert [s.name for s in hottest] == ["_start", "sum_squares"]  # most instructions, most samples
        (summary,) = annotator.find("mix")
        ref = json.loads(json.dumps(summary.ref.to_dict()))  # as a browser would send it back
        assert annotator.summary(FunctionRef.from_dict(ref)) == summary
        data = annotator.annotate(summary).to_dict()
    finally:
        recording.close()
    assert data == annotated(built, "mix")
