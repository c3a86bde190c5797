"""Finding (and, as root, mounting) tracefs, where tracepoint ids and formats live.

A tracepoint event is opened with ``type = PERF_TYPE_TRACEPOINT`` and ``config`` =
the number in ``<tracefs>/events/<system>/<name>/id`` (perf_event_open(2)).  tracefs
is usually at /sys/kernel/tracing (or /sys/kernel/debug/tracing through debugfs);
some hosts do not mount it at boot.  Root may mount it (mount(2), filesystem type
"tracefs"); anyone else gets :class:`TracefsUnavailable` with one sentence saying why.
"""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

TRACEFS_DIR = Path("/sys/kernel/tracing")
DEBUGFS_TRACING_DIR = Path("/sys/kernel/debug/tracing")
ROOT_FIX = "run stax as root, or install staxd once with 'sudo stax setup'"


class TracefsUnavailable(Exception):
    """tracefs cannot be used; ``str()`` is one sentence with the reason."""


def _mount_points(mounts: str = "/proc/self/mounts") -> list[Path]:
    points = []
    try:
        for line in Path(mounts).read_text().splitlines():
            fields = line.split()
            if len(fields) > 2 and fields[2] == "tracefs":
                points.append(Path(fields[1].replace("\\040", " ")))
    except OSError:
        pass
    return points


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # PermissionError: tracefs is mode 0700 for non-root
        return False


def mounted_tracefs() -> Path | None:
    """Where tracefs is mounted now (events/ inside it), or None."""
    for point in [*_mount_points(), TRACEFS_DIR, DEBUGFS_TRACING_DIR]:
        if _is_dir(point / "events"):
            return point
    return None


def _mount(target: Path) -> int:
    """mount -t tracefs nodev TARGET; 0 or the errno."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    if libc.mount(b"nodev", os.fsencode(target), b"tracefs", 0, None) != 0:
        return ctypes.get_errno() or errno.EIO
    return 0


def ensure_tracefs() -> Path:
    """The tracefs directory, mounting it at /sys/kernel/tracing when root and it is not mounted.

    Raises :class:`TracefsUnavailable` with the reason and the fix otherwise.
    """
    found = mounted_tracefs()
    if found is not None:
        return found
    if os.geteuid() != 0:
        points = _mount_points()
        if points:
            raise TracefsUnavailable(f"tracefs (at {points[0]}) is readable only by root; {ROOT_FIX}")
        raise TracefsUnavailable(f"tracefs is not mounted and only root can mount it; {ROOT_FIX}")
    if not _is_dir(TRACEFS_DIR):
        raise TracefsUnavailable("this kernel has no /sys/kernel/tracing (built without CONFIG_TRACING?)")
    err = _mount(TRACEFS_DIR)
    if err and err != errno.EBUSY:
        raise TracefsUnavailable(f"mounting tracefs at {TRACEFS_DIR} failed ({os.strerror(err)}); "
                                 f"run 'sudo mount -t tracefs nodev {TRACEFS_DIR}'")
    found = mounted_tracefs()
    if found is None:
        raise TracefsUnavailable(f"tracefs was mounted at {TRACEFS_DIR} but has no events directory")
    return found
