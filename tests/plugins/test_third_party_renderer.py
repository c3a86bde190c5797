"""A renderer shipped as its own distribution works through one entry point.

The example distribution is pip-installed into the running environment (and
uninstalled afterwards); the plugin manager is a process-wide singleton that
loads entry points once, so the CLI runs in fresh subprocesses.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.render.synthetic_recording import write_recording

DIST = Path(__file__).resolve().parent / "stax-example-renderer"
BIN = Path(sys.executable).parent
STAX = str(BIN / "stax")


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True, capture_output=True, text=True,
                   timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # Build from a copy: building in place would leave build artefacts in the repository.
    work = tmp_path_factory.mktemp("dist") / DIST.name
    subprocess.run(["cp", "-r", str(DIST), str(work)], check=True)
    pip("install", "-q", "--no-deps", str(work))
    try:
        yield
    finally:
        pip("uninstall", "-q", "-y", "stax-example-renderer")


def stax(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STAX, *args], capture_output=True, text=True, timeout=120)


def test_plugins_lists_it(installed: None) -> None:
    proc = stax("plugins")
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("hotlist "))
    assert "stax-example-renderer" in line and "0.1.0" in line and "stax_renderers" in line
    assert "hotlist" in next(line for line in proc.stdout.splitlines() if line.startswith("  profile: "))


def test_render_uses_it(installed: None, tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "hot.stax", [("main;driver;hot_a", 750), ("main;driver;hot_b", 250)])
    proc = stax("render", str(rec), "--format", "hotlist")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["hot_a 75.0", "hot_b 25.0"]
    out = tmp_path / "hot.txt"
    proc = stax("render", str(rec), "--format", "hotlist", "-n", "1", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "hot_a 75.0\n"
