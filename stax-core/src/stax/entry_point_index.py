"""Find the ``stax`` entry points quickly: a scan of every installed distribution costs
~45 ms per command, so the result is cached and reused while ``sys.path`` is unchanged.

The cache key is the interpreter, each ``sys.path`` directory and its mtime: installing
or removing a distribution changes its site-packages directory's mtime (a dist-info
directory appears or disappears), so the next command scans again.

``importlib.metadata`` (and the ``email`` package it pulls in, ~25 ms) is imported only
by a scan: a cached list loads each entry point with ``importlib.import_module``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from importlib import import_module

import attrs


@attrs.frozen(slots=True)
class EntryPointRecord:
    name: str
    value: str
    distribution: str
    version: str

    def load(self) -> object:
        """The object ``value`` names (``module`` or ``module:attr.attr``), as
        ``importlib.metadata.EntryPoint.load`` resolves it."""
        module, _, attr = self.value.split("[")[0].partition(":")  # "[extras]" do not name the object
        found: object = import_module(module.strip())
        for part in filter(None, attr.strip().split(".")):
            found = getattr(found, part)
        return found


def _path_key() -> str:
    parts = [sys.executable, sys.version]
    for entry in sys.path:
        try:
            parts.append(f"{entry}:{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            parts.append(f"{entry}:-")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def scan(group: str) -> list[EntryPointRecord]:
    """Every entry point of ``group`` from installed distribution metadata (slow path)."""
    from importlib import metadata

    found: list[EntryPointRecord] = []
    seen: set[str] = set()
    for ep in metadata.entry_points(group=group):
        if ep.name in seen:
            continue
        seen.add(ep.name)
        dist = ep.dist
        found.append(EntryPointRecord(ep.name, ep.value, dist.name if dist else "?",
                                      dist.version if dist else "?"))
    return found


def entry_points(group: str) -> list[EntryPointRecord]:
    """The entry points of ``group``, from the cache when ``sys.path`` has not changed."""
    if os.environ.get("STAX_NO_ENTRY_POINT_CACHE"):
        return scan(group)
    from stax.cache_dirs import cache_dir

    directory = cache_dir()  # the list decides which code is imported: only from our own dir
    if directory is None:
        return scan(group)
    path = directory / f"entry-points-{group}-{_path_key()}.json"
    try:
        rows = json.loads(path.read_text())
        return [EntryPointRecord(**row) for row in rows]
    except (OSError, ValueError, TypeError):
        pass
    found = scan(group)
    try:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps([attrs.asdict(r) for r in found]))
        os.replace(tmp, path)
    except OSError:
        pass
    return found
