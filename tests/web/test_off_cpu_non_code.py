"""Off the CPU the web drops frames that are not code (an address no mapping holds, shown as
``[unknown]+0x...``) and counts them, with the same analysis function as ``stax top --off-cpu``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.web.conftest import MS
from tests.web.server import STAX, serve


def test_off_cpu_flame_drops_and_counts_frames_that_are_not_code(non_code_rec: Path) -> None:
    rec = non_code_rec
    cli = json.loads(subprocess.run([STAX, "top", str(rec), "--off-cpu", "--json"], capture_output=True,
                                    text=True, check=True).stdout)
    assert cli["non_code_frames"] == {"frames": 1, "spans": 3}
    with serve(str(rec)) as server:
        blocked = server.api("/api/flame?mode=offcpu")
        runnable = server.api("/api/flame?mode=runnable")
        on_cpu = server.api("/api/flame")
        # the last sleep only (from 56 ms after the first event): its stack had nothing to drop,
        # whatever earlier selections of the session dropped
        late = server.api(f"/api/flame?mode=offcpu&start={56 * MS}")
    for flame, spans in ((blocked, 3), (runnable, 2)):
        assert not [n for n in flame["names"] if n.startswith("[unknown]")]
        assert flame["non_code"] == {"frames": 1, "spans": spans}
        assert [flame["names"][n[0]] for n in flame["nodes"]] == ["all", "main", "nap"]
    assert blocked["total"] == cli["blocked_ns"] == 40 * MS and runnable["total"] == 20 * MS
    assert "non_code" not in on_cpu
    assert late["total"] == 10 * MS and late["non_code"] == {"frames": 0, "spans": 0}
