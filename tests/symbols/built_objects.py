"""C sources for the symbol tests, and readers of the expected answers (binutils, /proc/kallsyms).

Expected answers come from binutils (nm, readelf), never from the code under test.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import attrs
import pytest

LIB_SOURCE = r"""
static int demo_private_mix(int x);

int __attribute__((noinline)) demo_lib_work(int n) {
    int s = 0;
    for (int i = 0; i < n; i++) s += demo_private_mix(i) ^ (s >> 3);
    return s;
}

/* After an export, so stripping leaves it in the gap behind demo_lib_work. */
static int __attribute__((noinline)) demo_private_mix(int x) { return x * 31 + 7; }

int __attribute__((noinline)) demo_lib_other(int n) { return demo_lib_work(n) + demo_private_mix(n); }
"""

PROG_SOURCE = r"""
extern int demo_lib_work(int);
extern int demo_lib_other(int);

static int __attribute__((noinline)) prog_static_helper(int x) { return x * 3 + 1; }

int __attribute__((noinline)) prog_alpha(int x) {
    int s = 0;
    for (int i = 0; i < x; i++) s += prog_static_helper(i);
    return s;
}

int __attribute__((noinline)) prog_beta(int x) { return prog_alpha(x) * 2 + demo_lib_work(x); }

int main(int argc, char **argv) { (void)argv; return (prog_beta(argc) + demo_lib_other(argc)) & 1; }
"""


@attrs.frozen
class Segment:
    """A PT_LOAD line of ``readelf -lW``."""

    offset: int
    vaddr: int
    file_size: int


@attrs.frozen
class Built:
    """Paths of the objects compiled for the session."""

    directory: Path
    lib: Path
    lib_stripped: Path
    lib_high_base: Path
    pie: Path
    no_pie: Path


def run(*argv: str | Path) -> str:
    return subprocess.run([str(a) for a in argv], check=True, capture_output=True, text=True).stdout


def nm_functions(path: Path, dynamic: bool = False) -> dict[str, tuple[int, int]]:
    """name -> (vaddr, size) of defined text symbols, as nm reports them."""
    out = run("nm", "-S", "--defined-only", *(["-D"] if dynamic else []), path)
    functions: dict[str, tuple[int, int]] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "TtWwi":
            functions[parts[3].split("@")[0]] = (int(parts[0], 16), int(parts[1], 16))
    return functions


def load_segments(path: Path) -> list[Segment]:
    """PT_LOAD segments as readelf prints them."""
    segments = []
    for line in run("readelf", "-lW", path).splitlines():
        parts = line.split()
        if parts and parts[0] == "LOAD":
            segments.append(Segment(int(parts[1], 16), int(parts[2], 16), int(parts[4], 16)))
    assert segments, f"readelf found no PT_LOAD in {path}"
    return segments


def file_offset_of(path: Path, vaddr: int) -> int:
    """Where in the file the byte at ELF virtual address ``vaddr`` lives."""
    for seg in load_segments(path):
        if seg.vaddr <= vaddr < seg.vaddr + seg.file_size:
            return vaddr - seg.vaddr + seg.offset
    raise AssertionError(f"{vaddr:#x} is in no PT_LOAD of {path}")


def build_id_of(path: Path) -> bytes:
    for line in run("readelf", "-n", path).splitlines():
        if "Build ID:" in line:
            return bytes.fromhex(line.split("Build ID:")[1].strip())
    raise AssertionError(f"{path} has no build id")


KERNEL_CANDIDATES = ("schedule", "do_sys_openat2", "vfs_read", "do_nanosleep")


def real_kernel_symbol() -> tuple[str, int]:
    """A function that is alone at its address and at least 6 bytes before the next symbol."""
    rows = []
    for line in Path("/proc/kallsyms").read_text().splitlines():
        parts = line.split()
        rows.append((int(parts[0], 16), parts[2]))
    if not any(address for address, _ in rows):
        pytest.skip("kallsyms addresses are hidden (kptr_restrict) for this user")
    starts = sorted({address for address, _ in rows})
    at: dict[int, list[str]] = {}
    for address, name in rows:
        at.setdefault(address, []).append(name)
    by_name = {name: address for address, name in rows}
    for name in KERNEL_CANDIDATES:
        address = by_name.get(name)
        if address is None or len(at[address]) != 1:
            continue
        following = starts[starts.index(address) + 1]
        if following - address > 5:
            return name, address
    pytest.skip(f"none of {KERNEL_CANDIDATES} is a unique kernel symbol here")
