"""Session fixtures: the snapshot harness built in the ways the unwinder must handle."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backend_linux.unwind.snapshots import PROGRAMS, SnapshotRun, build_harness, run, run_harness

OPTIMISED = ("-O2", "-fomit-frame-pointer")


@pytest.fixture(scope="session")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """-O2 -fomit-frame-pointer: .eh_frame + .eh_frame_hdr, the distribution default."""
    return build_harness(tmp_path_factory.mktemp("harness") / "harness", *OPTIMISED)


@pytest.fixture(scope="session")
def chain_run(harness: Path, tmp_path_factory: pytest.TempPathFactory) -> SnapshotRun:
    return run_harness(harness, "chain", tmp_path_factory.mktemp("chain"))


@pytest.fixture(scope="session")
def qsort_run(harness: Path, tmp_path_factory: pytest.TempPathFactory) -> SnapshotRun:
    return run_harness(harness, "qsort", tmp_path_factory.mktemp("qsort"), 60)


@pytest.fixture(scope="session")
def signal_run(harness: Path, tmp_path_factory: pytest.TempPathFactory) -> SnapshotRun:
    return run_harness(harness, "signal", tmp_path_factory.mktemp("signal"))


@pytest.fixture(scope="session")
def noreturn_run(harness: Path, tmp_path_factory: pytest.TempPathFactory) -> SnapshotRun:
    return run_harness(harness, "noreturn", tmp_path_factory.mktemp("noreturn"))


@pytest.fixture(scope="session")
def no_hdr_run(tmp_path_factory: pytest.TempPathFactory) -> SnapshotRun:
    """Linked without .eh_frame_hdr: the FDE table must come from scanning .eh_frame."""
    directory = tmp_path_factory.mktemp("no-hdr")
    binary = build_harness(directory / "harness", *OPTIMISED, "-Wl,--no-eh-frame-hdr")
    return run_harness(binary, "qsort", directory / "out", 5)


@pytest.fixture(scope="session")
def debug_frame_run(tmp_path_factory: pytest.TempPathFactory) -> SnapshotRun:
    """No .eh_frame for our code; .debug_frame only in a separate file found by debuglink."""
    directory = tmp_path_factory.mktemp("debug-frame")
    binary = build_harness(
        directory / "harness", *OPTIMISED, "-g", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables"
    )
    debug = directory / "harness.debug"
    run("objcopy", "--only-keep-debug", binary, debug)
    run("objcopy", "--strip-debug", f"--add-gnu-debuglink={debug}", binary)
    return run_harness(binary, "qsort", directory / "out", 5)


@pytest.fixture(scope="session")
def frame_pointer_run(tmp_path_factory: pytest.TempPathFactory) -> SnapshotRun:
    """Our code has frame pointers but no CFI at all: the rbp-chain fallback."""
    directory = tmp_path_factory.mktemp("frame-pointer")
    binary = build_harness(
        directory / "harness", "-O2", "-fno-omit-frame-pointer", "-fno-asynchronous-unwind-tables",
        "-fno-unwind-tables",
    )  # fmt: skip
    return run_harness(binary, "qsort", directory / "out", 5)


@pytest.fixture(scope="session")
def cfi_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shared object of hand-written CFI: zPLR, S, restore, val_offset, register, ..."""
    out = tmp_path_factory.mktemp("cfi-zoo") / "cfi_zoo.so"
    run("gcc", "-shared", "-nostdlib", "-o", out, PROGRAMS / "cfi_zoo.s")
    return out
