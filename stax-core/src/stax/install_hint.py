"""How to install a missing stax distribution, in the one sentence part every message uses.

stax is not on PyPI: the name ``stax`` there belongs to an unrelated project, so
``pip install 'stax[linux]'`` would install that one.  Until stax is published, each
distribution is installed from its directory in a clone (README.md, "Install").
"""

from __future__ import annotations

DIRECTORIES = {
    "stax-backend-linux": "./stax-backend-linux",
    "stax-backend-macos": "./stax-backend-macos",
    "staxd-linux": "./staxd/staxd-linux",
    "staxd-macos": "./staxd/staxd-macos",
}


def install_from_clone(distribution: str) -> str:
    """``pip install ./DIR`` in a clone of the stax repository, for ``distribution``."""
    return (f"pip install {DIRECTORIES.get(distribution, './' + distribution)} in a clone of the stax"
            " repository (README.md, Install; the PyPI project named stax is another one)")


def backend_distribution(platform: str) -> str:
    """The capture backend's distribution for ``sys.platform`` ``platform``."""
    return "stax-backend-linux" if platform == "linux" else "stax-backend-macos"
