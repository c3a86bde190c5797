"""Finding (and if need be mounting) tracefs, and reading a tracepoint's id and field layout.

A tracepoint perf event is opened by its numeric id (``events/<system>/<name>/id``);
its PERF_SAMPLE_RAW payload is laid out as ``events/<system>/<name>/format`` says.
Both live in tracefs, which is root-only and on many hosts not mounted at boot, so
the daemon reads them for the client.  Mounting needs CAP_SYS_ADMIN, which the
daemon drops after start-up, so it mounts tracefs at the standard place
(Documentation/trace/ftrace.rst: /sys/kernel/tracing) while starting, if its
policy lets clients ask for tracepoints and nothing mounted it yet (under
systemd, the unit pulls in systemd's own sys-kernel-tracing.mount instead).
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import threading
from pathlib import Path

STANDARD_MOUNT = Path("/sys/kernel/tracing")
_FIELD = re.compile(r"field:(?P<decl>[^;]+);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);\s*"
                    r"signed:(?P<signed>\d+);")
_mount_lock = threading.Lock()


class TracefsError(OSError):
    """tracefs cannot be found or mounted, or a tracepoint is missing; ``str()`` is one sentence."""


def mounted_at(mounts: str = "/proc/self/mounts") -> Path | None:
    """Where tracefs is mounted (the standard place first), or None."""
    found: list[Path] = []
    try:
        with open(mounts) as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[2] == "tracefs":
                    # /proc/mounts escapes spaces etc. as octal (\040); undo that.
                    found.append(Path(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), parts[1])))
    except OSError:
        return None
    if STANDARD_MOUNT in found:
        return STANDARD_MOUNT
    return found[0] if found else None


def _mount_tracefs(target: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b"nodev", os.fsencode(target), b"tracefs", ctypes.c_ulong(0), None) != 0:
        err = ctypes.get_errno()
        fix = (f"; staxd mounts it only while starting, so mount it with 'sudo mount -t tracefs nodev "
               f"{target}'" if err == errno.EPERM else "")
        raise TracefsError(err, f"tracefs is not mounted and mounting it on {target} failed "
                                f"({os.strerror(err)}){fix}.")


def ensure_mounted() -> tuple[Path, bool]:
    """tracefs's mount point, mounting it at /sys/kernel/tracing if needed; True if we mounted it."""
    with _mount_lock:
        where = mounted_at()
        if where is not None:
            return where, False
        _mount_tracefs(STANDARD_MOUNT)
        return STANDARD_MOUNT, True


def mount_at_startup(wanted: bool) -> str | None:
    """Mount tracefs before privileges are dropped, if ``wanted`` and missing; a line to log, or None.

    A failure is logged, not fatal: only sched_waking requests need tracefs, and they are
    then refused with the reason.
    """
    if not wanted:
        return None
    try:
        where, mounted = ensure_mounted()
    except TracefsError as exc:
        return f"{exc.strerror} Wakeup requests will be refused."
    return f"mounted tracefs on {where}" if mounted else None


def _event_dir(root: Path, system: str, name: str) -> Path:
    return root / "events" / system / name


def tracepoint_id(root: Path, system: str, name: str) -> int:
    """The id perf_event_open takes as ``config`` for PERF_TYPE_TRACEPOINT."""
    path = _event_dir(root, system, name) / "id"
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        raise TracefsError(0, f"the tracepoint {system}:{name} does not exist in this kernel "
                              f"({path} is unreadable).") from None


def tracepoint_fields(root: Path, system: str, name: str) -> dict[str, tuple[int, int, bool]]:
    """Field name -> (offset, size, signed) inside the tracepoint's raw sample data."""
    path = _event_dir(root, system, name) / "format"
    try:
        text = path.read_text()
    except OSError:
        raise TracefsError(0, f"cannot read the format of tracepoint {system}:{name}.") from None
    return parse_format(text)


def parse_format(text: str) -> dict[str, tuple[int, int, bool]]:
    """Parse the ``field:TYPE NAME; offset:N; size:N; signed:N;`` lines of a format file."""
    fields: dict[str, tuple[int, int, bool]] = {}
    for match in _FIELD.finditer(text):
        decl = match["decl"].strip()
        name = decl.split()[-1].split("[")[0]
        fields[name] = (int(match["offset"]), int(match["size"]), match["signed"] == "1")
    return fields
