"""Where stax keeps what it builds and caches: the user cache directory, if it can be trusted.

stax loads code from its cache (the compiled record decoder, a ``.so``) and trusts what it
finds there (symbol names, the kallsyms table, debuginfod downloads, the entry-point list).
So a cache directory is used only if :func:`stax.trusted_files.private_dir` accepts it:
ours, mode 0700, not a link.  The platformdirs user cache directory (``STAX_CACHE_DIR``
overrides it) comes first; when it cannot be made or is not ours (a service user without
a home), the per-user fallback ``$TMPDIR/stax-cache-UID``; if another user made that one first,
nothing is cached across runs and :func:`scratch_dir` holds what a run builds.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

import platformdirs

from stax.trusted_files import private_dir


def cache_dir() -> Path | None:
    """The stax cache directory (created on demand), or None when no trustworthy one exists."""
    override = os.environ.get("STAX_CACHE_DIR")
    primary = Path(override) if override else Path(platformdirs.user_cache_dir("stax"))
    if private_dir(primary):
        return primary
    # e.g. a service user whose HOME does not exist: a per-user directory in /tmp
    fallback = Path(tempfile.gettempdir()) / f"stax-cache-{os.geteuid()}"
    return fallback if private_dir(fallback) else None


@functools.cache
def scratch_dir() -> Path:
    """A directory private to this run (``mkdtemp``: ours, 0700, a fresh name), removed at exit."""
    path = Path(tempfile.mkdtemp(prefix="stax-run-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def work_dir() -> Path:
    """Where to build and load code or keep downloads: the cache directory, else this run's
    scratch directory (never a directory another user could have put files in)."""
    return cache_dir() or scratch_dir()
