"""How to install a missing stax distribution, in the one sentence part every message uses.

stax is not on PyPI: the name ``stax`` there belongs to an unrelated project, so
``pip install 'stax[linux]'`` would install that one.  Until stax is published, each
distribution is installed from its directory in a clone (README.md, "Install").
"""

from __future__ import annotations

SHARED_DIRECTORIES = ("./stax-core", "./stax-binfmt", "./stax-symbols", "./stax-render", "./stax-web",
                      "./stax-backend-linux", "./stax-backend-macos")
"""What README.md's install command names first, on every OS (the macOS backend's distribution
installs on Linux too: it only registers its plugin there)."""
PLATFORM_DIRECTORIES = {
    "linux": ("./staxd/staxd-linux", "'.[linux]'"),
    "darwin": ("./staxd/staxd-macos", "'.[macos]'"),
}
"""... and then, per ``sys.platform``: the broker and the meta-distribution's extra."""

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


def install_command(pip: str, platform: str) -> str:
    """The README's install from a clone for ``sys.platform`` ``platform``, run by ``pip``."""
    return " ".join((f"{pip} install", *SHARED_DIRECTORIES, *PLATFORM_DIRECTORIES[platform]))


def root_venv_hint(platform: str) -> str:
    """How to make the root-owned virtual environment ``stax setup`` needs (/opt/stax), from a clone."""
    return (f"a root-owned virtual environment such as /opt/stax (in a clone of the stax repository: "
            f"sudo python3 -m venv /opt/stax && {install_command('sudo /opt/stax/bin/pip', platform)}; "
            f"README.md, Install), then run 'sudo /opt/stax/bin/stax setup'")
