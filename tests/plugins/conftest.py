"""Installing an example plugin distribution into a throwaway directory, never into .venv.

``pip install --target`` puts the distribution (its code and its ``.dist-info`` with the
entry points) in a directory under the test's temp dir; the CLI runs with that directory
on ``PYTHONPATH``, where importlib.metadata finds the entry points like those of any
installed distribution.  The project's environment is never modified, so a test that
dies half-way leaves nothing installed behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
STAX = str(Path(sys.executable).parent / "stax")


def install_throwaway(distribution: str, tmp: Path) -> dict[str, str]:
    """pip-install ``tests/plugins/<distribution>`` under ``tmp``; the environment to run stax with."""
    # Build from a copy: building in place would leave build artefacts in the repository.
    work = tmp / distribution
    shutil.copytree(EXAMPLES / distribution, work)
    target = tmp / "site-packages"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                    str(work)], check=True, capture_output=True, text=True, timeout=600)
    paths = [str(target), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
