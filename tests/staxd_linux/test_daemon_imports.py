"""The root daemon loads no part of the capture backend: its protocol, perf attrs, tracefs and
/proc readers come from the leaf library (stax_binfmt) it shares with the client."""

from __future__ import annotations

import json
import subprocess
import sys


def test_daemon_imports_no_backend_module() -> None:
    probe = ("import json, sys, staxd_linux.daemon, staxd_linux.__main__; "
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('stax_backend_linux', 'stax_symbols', 'stax_render'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          check=True)
    assert json.loads(done.stdout) == []
