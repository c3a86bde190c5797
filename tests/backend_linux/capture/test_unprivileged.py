"""Recording as an ordinary user (uid 65534) on this host's kernel.perf_event_paranoid.

The test re-runs a small script under ``setpriv`` (which drops every capability with
the uid change); the script records its own child and reports what it saw as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.backend_linux.conftest import needs_root

NOBODY = 65534
SCRIPT = r'''
import json, sys
from stax.contracts import RecordRequest
from stax.errors import StaxError
from stax.events import Sample
from stax_backend_linux.plugin import LinuxBackend

class Sink:
    def __init__(self):
        self.samples = []
    def consume(self, batch):
        self.samples.extend(e for e in batch if type(e) is Sample)

backend = LinuxBackend()
sink = Sink()
summary = backend.record(RecordRequest(command=(sys.argv[1], "0.7")), sink, lambda p: None, lambda: False)
try:
    backend.record(RecordRequest(system_wide=True, duration=0.2), Sink(), lambda p: None, lambda: False)
    system_wide_error = None
except StaxError as exc:
    system_wide_error = [type(exc).__name__, str(exc)]
rows = {str(r.capability): [str(r.status), r.reason, r.fix] for r in backend.capabilities()}
print(json.dumps({
    "samples": len(sink.samples),
    "with_kernel": sum(1 for s in sink.samples if s.kernel_ips),
    "with_user": sum(1 for s in sink.samples if s.user_ips),
    "notes": summary.notes,
    "lost": summary.lost_records,
    "kernel_stacks": summary.metadata["kernel_stacks"],
    "exit": summary.target_exit_code,
    "system_wide_error": system_wide_error,
    "rows": rows,
}))
'''


def _paranoid() -> int:
    return int(Path("/proc/sys/kernel/perf_event_paranoid").read_text())


@needs_root
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")
def test_unprivileged_recording_is_user_only_with_a_note(workloads: dict[str, Path]) -> None:
    if _paranoid() < 2:
        pytest.skip("kernel.perf_event_paranoid < 2 lets users record kernel frames")
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    probe = subprocess.run([*drop, sys.executable, "-c", "import stax_backend_linux.plugin"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"uid {NOBODY} cannot import the venv: {probe.stderr.strip()[-200:]}")
    workdir = Path(tempfile.mkdtemp(prefix="stax-unpriv-"))
    try:
        workdir.chmod(0o755)
        script = workdir / "record_as_user.py"
        script.write_text(SCRIPT)
        script.chmod(0o644)
        exe = workdir / "syscall_loop"
        shutil.copy(workloads["syscall_loop"], exe)
        exe.chmod(0o755)
        done = subprocess.run([*drop, sys.executable, str(script), str(exe)], capture_output=True,
                              text=True, timeout=60, cwd=workdir, env={**os.environ, "HOME": str(workdir)})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["exit"] == 0 and report["lost"] == 0
    assert report["samples"] >= 50 and report["with_user"] == report["samples"]
    assert report["with_kernel"] == 0
    assert report["kernel_stacks"] is False
    (note,) = report["notes"]
    assert f"kernel.perf_event_paranoid is {_paranoid()}" in note
    assert "sudo sysctl kernel.perf_event_paranoid=1" in note and "sudo stax setup" in note
    assert note.count(".") == note.count("perf_event_paranoid") + 1  # one sentence, ending in a period
    kind, message = report["system_wide_error"]
    assert kind == "CaptureError" and "perf_event_paranoid" in message and "sudo" in message
    status, reason, fix = report["rows"]["kernel call stacks"]
    assert status == "via staxd" and "perf_event_paranoid" in reason and "sysctl" in fix
    assert report["rows"]["on-CPU sampling"][0] == "available"
