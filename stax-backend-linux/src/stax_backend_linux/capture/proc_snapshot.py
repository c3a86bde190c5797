"""Synthesize ThreadName/ImageLoad events for processes that were running before capture.

The kernel reports MMAP2 and COMM only for what happens after an event is opened,
so for ``-p`` and ``-a`` the existing threads and executable mappings come from
/proc/PID/task/*/comm and /proc/PID/maps (proc(5)), stamped with the time capture
started so they sort before every sample.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from stax.events import Event, ImageKind, ImageLoad, ThreadName
from stax_backend_linux.decode.record_decoder import image_kind
from stax_binfmt.elf import read_build_id
from stax_binfmt.procfs import thread_ids


class BuildIdCache:
    """Build ids by file, read once per capture (many processes map the same libc)."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], bytes | None] = {}

    def get(self, path: str, identity: str = "") -> bytes | None:
        """Build id of ``path``; ``identity`` (e.g. "dev:inode") tells same-named files apart."""
        key = (path, identity)
        if key not in self._by_key:
            self._by_key[key] = None if path.endswith(" (deleted)") else read_build_id(path)
        return self._by_key[key]

    __call__ = get


def all_pids() -> list[int]:
    """Every process id in /proc."""
    return sorted(int(name) for name in os.listdir("/proc") if name.isdigit())


def thread_names(pid: int, when: int) -> list[ThreadName]:
    return [name for tid in thread_ids(pid) if (name := thread_name(pid, tid, when)) is not None]


def thread_name(pid: int, tid: int, when: int) -> ThreadName | None:
    """``tid``'s name from /proc/PID/task/TID/comm now, or None when it is gone or unreadable."""
    try:
        with open(f"/proc/{pid}/task/{tid}/comm", "rb") as f:
            name = f.read().rstrip(b"\n").decode("utf-8", "replace")
    except OSError:
        return None  # the thread exited meanwhile
    return ThreadName(when, pid, tid, name)


def parse_maps(text: str, pid: int, when: int, build_ids: BuildIdCache | None = None) -> list[ImageLoad]:
    """ImageLoad for each executable mapping in /proc/PID/maps text.

    Line format (proc(5)): ``start-end perms offset dev inode [path]``; the path may
    contain spaces and is absent for anonymous memory.
    """
    out = []
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 5 or len(parts[1]) < 3 or parts[1][2] != "x":
            continue
        path = parts[5].strip() if len(parts) == 6 else ""
        if path == "[vsyscall]":
            continue  # a fixed legacy page above user space, never real code of the process
        start_s, _, end_s = parts[0].partition("-")
        kind, path = image_kind(path)
        offset = int(parts[2], 16) if kind is not ImageKind.JIT else 0
        build_id = None
        if kind is ImageKind.ELF and build_ids is not None:
            build_id = build_ids.get(path, f"{parts[3]}:{parts[4]}")
        out.append(ImageLoad(when, pid, int(start_s, 16), int(end_s, 16), offset, path, kind, build_id))
    return out


def process_images(pid: int, when: int, build_ids: BuildIdCache | None = None) -> list[ImageLoad]:
    try:
        with open(f"/proc/{pid}/maps") as f:
            text = f.read()
    except OSError:
        return []  # exited, or a kernel thread with no readable maps
    return parse_maps(text, pid, when, build_ids)


def snapshot(pids: Iterable[int], when: int, build_ids: BuildIdCache | None = None) -> list[Event]:
    """Thread names and executable mappings of ``pids`` as events at time ``when``."""
    events: list[Event] = []
    for pid in pids:
        events.extend(thread_names(pid, when))
        events.extend(process_images(pid, when, build_ids))
    return events
