"""C++ and Rust names are shown demangled in every view, as c++filt and rustc-demangle spell them.

Real programs are built here (g++; rustc when the host has it, else a C program whose
functions carry rustc's legacy and v0 names through asm labels), recorded by the real
``stax record``, and shown by the real views.  ``--no-demangle`` gives the names the
binary holds, which stay in the recording either way.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from stax.analysis.demangle import demangle
from stax.recording.reader import Recording
from tests.core.analysis.conftest import WORKLOADS, build, needs_root, record, stax, stax_json

pytestmark = [needs_root, pytest.mark.root]

RUSTC = shutil.which("rustc") or (str(Path.home() / ".cargo/bin/rustc")
                                  if (Path.home() / ".cargo/bin/rustc").exists() else None)


def cxxfilt(names: list[str]) -> list[str]:
    """What binutils' c++filt prints for each name."""
    out = subprocess.run(["c++filt"], input="\n".join(names) + "\n", capture_output=True, text=True,
                         check=True).stdout
    return out.splitlines()


def _functions(rec: Path, *flags: str) -> list[dict]:
    return stax_json("top", str(rec), "-n", "-1", *flags)["functions"]


def test_cxx_names_match_cxxfilt(cxx_rec: Path) -> None:
    shown = _functions(cxx_rec)
    raw = _functions(cxx_rec, "--no-demangle")
    assert [f["self"] for f in shown] == [f["self"] for f in raw]
    mangled = [f["function"] for f in raw if f["function"].startswith("_Z")]
    assert len(mangled) >= 3, raw
    expected = dict(zip(mangled, cxxfilt(mangled), strict=True))
    by_raw = {r["function"]: s["function"] for r, s in zip(raw, shown, strict=True)}
    for name in mangled:
        assert by_raw[name] == expected[name]
    names = set(by_raw.values())
    assert "geo::Vec<double>::operator+(geo::Vec<double> const&) const" in names
    assert "double geo::dot<double>(geo::Vec<double> const&, geo::Vec<double> const&)" in names
    assert "main::{lambda(int)#1}::operator()(int) const" in names
    # the recording keeps the raw names
    recording = Recording.open(cxx_rec)
    try:
        stored = {label.name for label in recording.frame_labels()}
    finally:
        recording.close()
    assert "_ZNK3geo3VecIdEplERKS1_" in stored
    assert not any("geo::" in name for name in stored)


def test_cxx_names_in_flamegraph_collapse_and_exports(cxx_rec: Path, tmp_path: Path) -> None:
    operator = "geo::Vec<double>::operator+(geo::Vec<double> const&) const"
    folded = stax("collapse", str(cxx_rec)).stdout
    assert operator in folded and "_ZNK3geo3Vec" not in folded
    assert "_ZNK3geo3VecIdEplERKS1_" in stax("collapse", str(cxx_rec), "--no-demangle").stdout
    svg = tmp_path / "f.svg"
    stax("flamegraph", str(cxx_rec), "-o", str(svg))
    text = svg.read_text()
    assert "geo::Vec&lt;double&gt;::operator+" in text and "_ZNK3geo3Vec" not in text
    speedscope = stax("export", str(cxx_rec), "-f", "speedscope").stdout
    assert "geo::Vec<double>::operator+" in speedscope and "_ZNK3geo3Vec" not in speedscope
    annotated = stax("annotate", str(cxx_rec), "-n", "1").stdout
    assert "geo::dot<double>" in annotated
    # annotate finds a function by its raw name too
    assert "geo::Vec<double>::operator+" in stax("annotate", str(cxx_rec), "_ZNK3geo3VecIdEplERKS1_").stdout


def test_rust_legacy_and_v0_symbols(tmp_path: Path) -> None:
    """rustc's two manglings, given by asm labels: shown as rustc-demangle shows them (no hash)."""
    exe = build("gcc", WORKLOADS / "rust_symbols.c", tmp_path / "rust_symbols", "-O1",
                "-fno-omit-frame-pointer")
    rec = record(exe, tmp_path / "rs.stax", "1")
    names = {f["function"] for f in _functions(rec)}
    assert {"mycrate::legacy::spin", "mycrate::v0::spin"} <= names
    raw = {f["function"] for f in _functions(rec, "--no-demangle")}
    assert {"_ZN7mycrate6legacy4spin17h0123456789abcdefE", "_RNvNtCs15kBYyAo9fc_7mycrate2v04spin"} <= raw


@pytest.mark.skipif(RUSTC is None, reason="rustc is not installed")
@pytest.mark.parametrize("mangling", ["legacy", "v0"])
def test_rust_program(tmp_path: Path, mangling: str) -> None:
    assert RUSTC is not None
    flags = ["-O", "-g", "-C", "force-frame-pointers=yes"]
    if mangling == "v0":
        flags += ["-C", "symbol-mangling-version=v0"]
    exe = build(RUSTC, WORKLOADS / "rust_names.rs", tmp_path / "rust_names", *flags)
    rec = record(exe, tmp_path / "rust.stax", "1")
    names = {f["function"] for f in _functions(rec)}
    assert "<rust_names::shapes::Square as rust_names::shapes::Area>::area" in names
    total = ("rust_names::shapes::total::<rust_names::shapes::Square>" if mangling == "v0"
             else "rust_names::shapes::total")
    assert total in names
    assert not any(name.startswith(("_ZN", "_R")) for name in names)
    # annotate names the calls inlined into the hottest function the same way
    annotated = stax("annotate", str(rec), "-n", "1").stdout
    assert "-- inlined " in annotated and not any(word in annotated for word in ("_ZN", "_RN"))
    raw = stax("annotate", str(rec), "-n", "1", "--no-demangle").stdout
    assert ("_RN" if mangling == "v0" else "_ZN") in raw


def test_demangler_edge_cases() -> None:
    """Names that are not mangled stay as they are; Mach-O's extra underscore is understood."""
    assert demangle("main") == "main"
    assert demangle("entry_SYSCALL_64_after_hwframe") == "entry_SYSCALL_64_after_hwframe"
    assert demangle("_Znot_a_real_name") == "_Znot_a_real_name"
    assert demangle("__ZN3foo3barEv") == "foo::bar()"
    assert demangle("_Z3fooi.cold") == cxxfilt(["_Z3fooi.cold"])[0]
    assert demangle("_RNvMsr_NtCs3ssYzQotkvD_3std4pathNtB5_7PathBuf3new") == "<std::path::PathBuf>::new"
