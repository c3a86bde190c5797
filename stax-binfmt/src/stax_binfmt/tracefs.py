"""tracefs: where it is mounted, mounting it, and a tracepoint's id and field layout.

A tracepoint perf event is opened with ``type = PERF_TYPE_TRACEPOINT`` and ``config`` =
the number in ``<tracefs>/events/<system>/<name>/id`` (perf_event_open(2)); its
PERF_SAMPLE_RAW payload is laid out as ``events/<system>/<name>/format`` says.  Both
files are root-only, and tracefs is on many hosts not mounted at boot: the standard
place is /sys/kernel/tracing (Documentation/trace/ftrace.rst), or
/sys/kernel/debug/tracing through debugfs.  Mounting needs CAP_SYS_ADMIN (mount(2),
filesystem type "tracefs").  ``stax record`` as root and staxd while starting mount it
there; everything else only finds it.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import threading
from pathlib import Path
from typing import NamedTuple

STANDARD_MOUNT = Path("/sys/kernel/tracing")
DEBUGFS_TRACING_DIR = Path("/sys/kernel/debug/tracing")
MOUNT_COMMAND = f"sudo mount -t tracefs nodev {STANDARD_MOUNT}"
_FIELD = re.compile(r"field:(?P<decl>[^;]+);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);\s*"
                    r"signed:(?P<signed>\d+);")
_mount_lock = threading.Lock()


class TracefsError(OSError):
    """tracefs cannot be found or mounted, or a tracepoint is missing; ``str()`` is one sentence."""


class TraceField(NamedTuple):
    """Where one field of a tracepoint's raw record is (also a plain tuple for JSON)."""

    offset: int
    size: int
    signed: bool


def mount_points(mounts: str = "/proc/self/mounts") -> list[Path]:
    """Every place tracefs is mounted, in the order of the mount table."""
    found: list[Path] = []
    try:
        with open(mounts) as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[2] == "tracefs":
                    # /proc/mounts escapes spaces etc. as octal (\040); undo that.
                    found.append(Path(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), parts[1])))
    except OSError:
        pass
    return found


def mounted_at(mounts: str = "/proc/self/mounts") -> Path | None:
    """Where tracefs is mounted (the standard place first), or None."""
    found = mount_points(mounts)
    if STANDARD_MOUNT in found:
        return STANDARD_MOUNT
    return found[0] if found else None


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # PermissionError: tracefs is mode 0700 for non-root
        return False


def readable_root() -> Path | None:
    """A tracefs this process can list ``events/`` of (a mount point, the standard place, or
    debugfs's ``tracing``), or None."""
    for point in [*mount_points(), STANDARD_MOUNT, DEBUGFS_TRACING_DIR]:
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


def ensure_mounted(denied_fix: str = "") -> tuple[Path, bool]:
    """tracefs's mount point, mounting it at /sys/kernel/tracing if needed; True if we mounted it.

    Raises :class:`TracefsError` when the mount fails; ``denied_fix`` is added to the
    sentence when it failed for want of privilege (EPERM).
    """
    with _mount_lock:
        where = mounted_at()
        if where is not None:
            return where, False
        err = _mount(STANDARD_MOUNT)
        if err == errno.EBUSY and mounted_at() is not None:
            return STANDARD_MOUNT, False  # mounted meanwhile by someone else
        if err:
            fix = f"; {denied_fix}" if err == errno.EPERM and denied_fix else ""
            raise TracefsError(err, f"tracefs is not mounted and mounting it on {STANDARD_MOUNT} failed "
                                    f"({os.strerror(err)}){fix}.")
        return STANDARD_MOUNT, True


def _event_dir(root: Path, system: str, name: str) -> Path:
    return root / "events" / system / name


def _read(root: Path, system: str, name: str, file: str) -> str:
    path = _event_dir(root, system, name) / file
    try:
        return path.read_text()
    except PermissionError:
        raise TracefsError(errno.EACCES,
                           f"the tracepoint {system}:{name} files are readable only by root.") from None
    except OSError:
        if file == "id":
            raise TracefsError(errno.ENOENT, f"the tracepoint {system}:{name} does not exist in this kernel "
                                             f"({path} is unreadable).") from None
        raise TracefsError(errno.ENOENT, f"cannot read the format of tracepoint {system}:{name}.") from None


def tracepoint_id(root: Path, system: str, name: str) -> int:
    """The id perf_event_open takes as ``config`` for PERF_TYPE_TRACEPOINT (raises TracefsError:
    errno EACCES when only root may read it, ENOENT when it is missing)."""
    text = _read(root, system, name, "id")
    try:
        return int(text.strip())
    except ValueError:
        raise TracefsError(errno.EINVAL, f"the id of tracepoint {system}:{name} is not a number.") from None


def tracepoint_fields(root: Path, system: str, name: str) -> dict[str, TraceField]:
    """Field name -> (offset, size, signed) inside the tracepoint's raw sample data."""
    return parse_format(_read(root, system, name, "format"))


def parse_format(text: str) -> dict[str, TraceField]:
    """Parse the ``field:TYPE NAME; offset:N; size:N; signed:N;`` lines of a format file."""
    fields: dict[str, TraceField] = {}
    for match in _FIELD.finditer(text):
        decl = match["decl"].strip()
        name = decl.split()[-1].split("[")[0]
        fields[name] = TraceField(int(match["offset"]), int(match["size"]), match["signed"] == "1")
    return fields
