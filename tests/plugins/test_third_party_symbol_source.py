"""A symbol source shipped as its own distribution works through one entry point.

The example distribution (``stax-example-symbols``: names from a ``<binary>.names`` sidecar,
order 50) is pip-installed into a throwaway directory put on the CLI's PYTHONPATH
(tests/plugins/conftest.py), never into the project's environment; the CLI runs in fresh
subprocesses, since the plugin manager loads entry points once per process.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.plugins.conftest import STAX, install_throwaway
from tests.symbols.built_objects import file_offset_of, nm_functions
from tests.symbols.debug_workload import build_variant


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a stax that has stax-example-symbols installed."""
    return install_throwaway("stax-example-symbols", tmp_path_factory.mktemp("plugin"))


def stax(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([STAX, *args], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_plugins_lists_it_first_in_order(installed: dict[str, str]) -> None:
    out = stax("plugins", env=installed).stdout
    line = next(line for line in out.splitlines() if line.startswith("sidecar-names "))
    assert "stax-example-symbols" in line and "0.1.0" in line and "stax_symbol_sources" in line
    order = next(line for line in out.splitlines() if line.startswith("symbol sources"))
    assert order.split(":", 1)[1].split(",")[0].strip() == "sidecar-names"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for perf_event_open")
def test_recording_uses_its_names(installed: dict[str, str], tmp_path: Path) -> None:
    v = build_variant(tmp_path, "sidecar")  # the unstripped build: DWARF would name it otherwise
    start, size = nm_functions(v.twin)["local_worker"]
    Path(f"{v.twin}.names").write_text(
        f"# START SIZE NAME (file offsets)\n{file_offset_of(v.twin, start):x} {size:x} named_by_sidecar\n"
    )
    env = {k: val for k, val in installed.items() if k != "DEBUGINFOD_URLS"}
    env["STAX_CACHE_DIR"] = str(tmp_path / "cache")
    rec = tmp_path / "r.stax"
    stax("record", "-q", "-o", str(rec), "--", str(v.twin), "20000", env=env)
    top = stax("top", str(rec), env=env).stdout
    hottest = next(line for line in top.splitlines() if line.strip().startswith("1 "))
    assert "named_by_sidecar" in hottest
    # order 50 beat DWARF (100) and the symbol table (300): neither name shows
    assert "local_worker" not in top and "hot_inline" not in top
