"""Which modules a snippet of code imports, in a fresh interpreter (for start-up cost tests)."""

from __future__ import annotations

import json
import subprocess
import sys


def imported_modules(code: str, prefixes: tuple[str, ...]) -> list[str]:
    """Run ``code`` in a new interpreter; the names in its ``sys.modules`` that start with ``prefixes``."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])
