"""Shared fixtures: a private symbol cache per test session, the repo paths, a C compiler."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import leaked_processes

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the symbol cache of the test run out of the user's cache directory."""
    os.environ["STAX_CACHE_DIR"] = str(tmp_path_factory.mktemp("stax-cache"))
    # Build the compiled decoder into that cache now, as the first `stax record` would:
    # compiling it (~1 CPU-s of cc1) beside the first recorded workload skews that
    # workload's shares on 2 cores.
    try:
        from stax_backend_linux.decode.fast_decoder import load
    except ImportError:  # no Linux backend installed
        return
    load()


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def compile_c(source: Path, out: Path, *flags: str) -> Path:
    """Compile a C file with gcc; the tests build their own workloads."""
    cc = shutil.which("gcc") or shutil.which("cc")
    assert cc, "gcc is required (apt-get install gcc)"
    subprocess.run([cc, *flags, "-o", str(out), str(source)], check=True)
    return out


_LEAKS: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Mark what the test body starts, so a process it leaves running can be found."""
    leaked_processes.mark(f"{os.getpid()}-{id(item)}")
    try:
        yield
    finally:
        leaked_processes.unmark()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    for command in leaked_processes.kill_marked(f"{os.getpid()}-{id(item)}"):
        _LEAKS.append(f"{item.nodeid}: {command}")


def pytest_terminal_summary(terminalreporter) -> None:
    if _LEAKS:
        terminalreporter.section("processes tests left running (killed)")
        for line in _LEAKS:
            terminalreporter.write_line(line)
