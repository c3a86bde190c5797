"""`stax record --serve` records, then serves the recording through the `serve` command the
stax-web plugin adds (core imports no stax_web); without the plugin it says what to install
before recording anything."""

from __future__ import annotations

import os
import subprocess
from importlib.metadata import entry_points
from pathlib import Path

from tests.web.conftest import needs_root
from tests.web.server import STAX, Served, stop

pytestmark = needs_root


def test_record_then_serve(shares_exe: Path, tmp_path: Path) -> None:
    rec = tmp_path / "served.stax"
    proc = subprocess.Popen([STAX, "record", "-q", "--serve", "-o", str(rec), "--", str(shares_exe), "3", "1",
                             "0.5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "DISPLAY": ""})
    try:
        served = Served(proc, proc.stdout.readline().rstrip("\n"))
        meta = served.api("/api/meta")
        assert meta["recording"] == "served.stax" and meta["sample_count"] > 0
        top = served.api("/api/top?limit=1")
        assert top["rows"][0]["function"] == "hot_a"
    finally:
        _, err = stop(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_without_the_plugin_one_sentence_and_nothing_recorded(shares_exe: Path, tmp_path: Path) -> None:
    others = sorted({ep.name for ep in entry_points(group="stax")} - {"cli-serve"})
    rec = tmp_path / "never.stax"
    proc = subprocess.run([STAX, "record", "-q", "--serve", "-o", str(rec), "--", str(shares_exe), "3", "1",
                           "0.2"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "STAX_PLUGINS": ",".join(others)})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install ./stax-web in a clone" in lines[0] and "Traceback" not in proc.stderr
    assert not rec.exists()
