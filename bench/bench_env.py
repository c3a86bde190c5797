"""The environment the benches run stax in: the one a user's installed stax has.

An installed stax runs from compiled bytecode (pip writes the ``.pyc`` files at install).
A shell with ``PYTHONDONTWRITEBYTECODE=1`` (some CI and agent shells set it) makes every
``stax`` process of a source checkout compile its ~330 modules again: ~0.1-0.2 s of CPU per
run that no user pays, and that a ratio against perf would count as stax's.  So the benches
run stax without that variable, after one warm-up run that writes the bytecode.
"""

from __future__ import annotations

import os
import subprocess
import tempfile

STAX_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def warm_up(stax: str) -> None:
    """Run ``stax record -- true`` once, so every module of the record path has its bytecode."""
    with tempfile.TemporaryDirectory(prefix="stax-bench-warm-up-") as tmp:
        subprocess.run([stax, "record", "-q", "-o", os.path.join(tmp, "w.stax"), "--", "true"],
                       env=STAX_ENV, check=True, stdout=subprocess.DEVNULL)
