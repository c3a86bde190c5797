"""Real ELF objects for the symbol-source tests, built with gcc once per session."""

from __future__ import annotations

import shutil

import pytest

from tests.symbols.built_objects import LIB_SOURCE, PROG_SOURCE, Built, run


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.fail("gcc is required for the symbol tests (apt-get install gcc)")
    d = tmp_path_factory.mktemp("symbols-build")
    (d / "libdemo.c").write_text(LIB_SOURCE)
    (d / "prog.c").write_text(PROG_SOURCE)
    common = ["-O1", "-g0", "-fno-toplevel-reorder", "-Wl,--build-id"]  # functions in source order
    run(cc, *common, "-shared", "-fPIC", "-o", d / "libdemo.so", d / "libdemo.c")
    # A base address far from 0 makes every vaddr differ from its file offset, as in a
    # prelinked library; the source must use the segments, not assume vaddr == offset.
    run(cc, *common, "-shared", "-fPIC", "-Wl,-Ttext-segment=0x200000",
        "-o", d / "libdemo_high.so", d / "libdemo.c")
    shutil.copy(d / "libdemo.so", d / "libdemo_stripped.so")
    run("strip", "--strip-all", d / "libdemo_stripped.so")
    link = [f"-L{d}", "-ldemo", f"-Wl,-rpath,{d}"]
    run(cc, *common, "-fPIE", "-pie", "-o", d / "prog_pie", d / "prog.c", *link)
    run(cc, *common, "-fno-pie", "-no-pie", "-o", d / "prog_nopie", d / "prog.c", *link)
    return Built(d, d / "libdemo.so", d / "libdemo_stripped.so", d / "libdemo_high.so",
                 d / "prog_pie", d / "prog_nopie")
