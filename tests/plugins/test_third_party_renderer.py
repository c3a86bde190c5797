"""A renderer shipped as its own distribution works through one entry point.

The example distribution is pip-installed into a throwaway directory put on the CLI's
PYTHONPATH (tests/plugins/conftest.py), never into the project's environment; the plugin
manager is a process-wide singleton that loads entry points once, so the CLI runs in
fresh subprocesses.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
from pathlib import Path

import pytest

from tests.plugins.conftest import STAX, install_throwaway
from tests.render.synthetic_recording import write_recording


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a stax that has stax-example-renderer installed."""
    return install_throwaway("stax-example-renderer", tmp_path_factory.mktemp("plugin"))


def stax(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STAX, *args], capture_output=True, text=True, timeout=120, env=env)


def test_plugins_lists_it(installed: dict[str, str]) -> None:
    proc = stax("plugins", env=installed)
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("hotlist "))
    assert "stax-example-renderer" in line and "0.1.0" in line and "stax_renderers" in line
    assert "hotlist" in next(line for line in proc.stdout.splitlines() if line.startswith("  profile: "))


def test_render_uses_it(installed: dict[str, str], tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "hot.stax", [("main;driver;hot_a", 750), ("main;driver;hot_b", 250)])
    proc = stax("render", str(rec), "--format", "hotlist", env=installed)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["hot_a 75.0", "hot_b 25.0"]
    out = tmp_path / "hot.txt"
    proc = stax("render", str(rec), "--format", "hotlist", "-n", "1", "-o", str(out), env=installed)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "hot_a 75.0\n"


def test_the_project_environment_is_untouched(installed: dict[str, str]) -> None:
    """Installed for the CLI above, yet absent here and from a stax run without that PYTHONPATH."""
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("stax-example-renderer")
    proc = stax("plugins")
    assert proc.returncode == 0, proc.stderr
    assert "stax-example-renderer" not in proc.stdout
