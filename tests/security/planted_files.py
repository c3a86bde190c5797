"""What the tests of files other users plant share: the real ``stax`` run with bounds, uids, dirs.

stax runs as root here (as an administrator would run it); the "other user" is uid 65534
(``setpriv``), or :data:`OTHER_UID`, a uid no process runs as.  Directories the attacker
can write are made like ``/tmp``: mode 1777, sticky.
"""

from __future__ import annotations

import os
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

STAX = str(Path(sys.executable).parent / "stax")
NOBODY = 65534
OTHER_UID = 1234
"""A uid that owns files in these tests but runs no process."""
MEMORY_LIMIT = 2 << 30
"""Address-space limit for each stax run: a reader that never stops fails instead of eating the VM."""

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="plants files as other users; needs root")
needs_setpriv = pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def stax(*args: str, timeout: float = 60, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run the real ``stax`` (text mode, output captured) under :data:`MEMORY_LIMIT`."""
    return subprocess.run([STAX, *args], capture_output=True, text=True, timeout=timeout,
                          preexec_fn=_limit_memory, **kw)  # noqa: PLW1509 (sets a limit only)


def as_user(uid: int, argv: list[str]) -> list[str]:
    """``argv`` run as ``uid`` (same gid, no supplementary groups)."""
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv]


@contextmanager
def shared_dir(prefix: str) -> Iterator[Path]:
    """A directory everyone may write, sticky like /tmp."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def plant_symlink(link: Path, target: str, uid: int = NOBODY) -> None:
    """Make ``link`` -> ``target`` as ``uid`` would (its own process makes it)."""
    subprocess.run(as_user(uid, ["ln", "-s", target, str(link)]), check=True)
    assert os.lstat(link).st_uid == uid


def device_copy(device: str, directory: Path) -> Path:
    """A private node with ``device``'s numbers: what old code would destroy is a copy, not the VM's."""
    st = os.stat(device)
    assert stat.S_ISCHR(st.st_mode)
    copy = directory / Path(device).name
    os.mknod(copy, 0o666 | stat.S_IFCHR, st.st_rdev)
    os.chmod(copy, 0o666)
    return copy


def is_char_device(path: str | Path, like: str) -> bool:
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == os.stat(like).st_rdev
