"""The perf-map source: names a process's JIT frames from ``/tmp/perf-PID.map``.

JIT frames carry absolute addresses (core keeps them absolute for per-process ``JIT`` and
``[unknown]`` images), and a perf map lists absolute addresses, so no relocation is needed.
Each pid's map is read once per symbolication pass (a live process may have appended since
the last pass).  Among entries holding an address the last one written wins: code freed and
replaced at the same address is described by the newer line.

The map is read only if it is a regular file owned by root or by a uid the process ran
as (recorded while it ran: ``context.options["process_owners"]``); anything else in
``/tmp`` (a FIFO, a link, another user's file) is skipped with one sentence saying why.

Limits: the map is read at the end of ``stax record``, so a process that deleted its map,
or a pid reused since, gives no or wrong names; a process in another pid namespace writes
its map under its own pid inside its own ``/tmp``, which this source does not look for.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from stax.address_spaces import JITDUMP_PATHS_OPTION
from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind
from stax.trusted_files import UntrustedFile, expected_owners
from stax_symbols.perf_map_file import PERF_MAP_DIR, PerfMap, perf_map_path, read_perf_map
from stax_symbols.perf_map_ranges import latest_covering

if TYPE_CHECKING:
    from stax.stack_table import Image

PERF_MAP_ORDER = 160
"""After jitdump (150), which serves the same images and also has source lines."""


class PerfMapSource:
    """Names ``ImageKind.JIT`` and ``ImageKind.UNKNOWN`` frames of a pid from its perf map."""

    name = "perf-map"
    order = PERF_MAP_ORDER

    def __init__(self, directory: Path = PERF_MAP_DIR) -> None:
        self.directory = directory
        self._pass: weakref.ref[SymbolContext] | None = None
        self._maps: dict[int, PerfMap | None] = {}
        self._missing: set[int] = set()

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        """Resolve absolute addresses; warn once per JIT process whose map cannot be read."""
        if image.kind not in (ImageKind.JIT, ImageKind.UNKNOWN) or image.pid is None or not offsets:
            return {}
        perf_map = self._map(image, context)
        if perf_map is None:
            return {}
        starts, names = perf_map.starts, perf_map.names
        return {
            address: (SymbolInfo(names[index], address - starts[index]),)
            for address, index in latest_covering(starts, perf_map.ends, offsets).items()
        }

    def _map(self, image: Image, context: SymbolContext) -> PerfMap | None:
        if self._pass is None or self._pass() is not context:
            self._pass = weakref.ref(context)
            self._maps.clear()
            self._missing.clear()
        pid = image.pid
        assert pid is not None
        path = perf_map_path(pid, self.directory)
        if pid not in self._maps:
            try:
                self._maps[pid] = read_perf_map(path, expected_owners(pid, context.options))
            except FileNotFoundError:
                self._maps[pid] = None
                self._missing.add(pid)
            except UntrustedFile as exc:
                self._maps[pid] = None
                context.warn(
                    f"JIT frames of pid {pid} stay unnamed because stax skipped {path}: it"
                    f" {exc.reason}; only a regular file of the process's own user (or root) is read."
                )
                return None
            except OSError as exc:
                self._maps[pid] = None
                context.warn(
                    f"JIT frames of pid {pid} stay unnamed because {path} cannot be read"
                    f" ({exc.strerror or exc}); run stax as the process's user or as root."
                )
                return None
        perf_map = self._maps[pid]
        # Only anonymous executable memory says "a JIT ran here"; an [unknown] image alone
        # (a stray address) is no reason to ask for a perf map.
        if pid in self._missing and image.kind is ImageKind.JIT and not _has_jitdump(pid, context):
            context.warn(
                f"JIT frames of pid {pid} stay unnamed because {path} is gone or was never"
                " written; run the runtime with its perf-map option (node --perf-basic-prof,"
                " python3.12+ -X perf) and keep the file until stax record ends."
            )
        return perf_map


def _has_jitdump(pid: int, context: SymbolContext) -> bool:
    mapped = context.options.get(JITDUMP_PATHS_OPTION)
    return isinstance(mapped, Mapping) and bool(mapped.get(pid))
