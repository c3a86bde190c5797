"""An unprivileged user (uid 65534, perf_event_paranoid=2) records its own program.

It gets user frames only, and one sentence says why kernel frames are missing and
how to fix it; nothing else is lost.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import STAX

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to uid 65534")


def test_unprivileged_records_user_frames_and_says_why_no_kernel(
    hotspots: Path, world_dir: Path
) -> None:
    paranoid = int(Path("/proc/sys/kernel/perf_event_paranoid").read_text())
    if paranoid < 2:
        pytest.skip(f"perf_event_paranoid is {paranoid}; this test needs >= 2 (the default)")
    rec = world_dir / "user.stax"
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent"}
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         STAX, "record", "-o", str(rec), "--", str(hotspots), "1"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "perf_event_paranoid" in proc.stderr
    top = json.loads(subprocess.run(
        [STAX, "top", str(rec), "--json", "-n", "50"], capture_output=True, text=True, check=True
    ).stdout)
    functions = {f["function"]: f for f in top["functions"]}
    assert functions["hot_a"]["self_percent"] == pytest.approx(75, abs=5)
    assert not any(f["is_kernel"] for f in top["functions"])
