"""The jitdump source: names a process's JIT frames, with source lines, from its jit-PID.dump.

Which file: a runtime writing a jitdump mmaps it executable so that a profiler sees the
mapping (perf's jitdump specification); core records the ``jit-PID.dump`` paths each
process mapped and passes them as ``context.options["jitdump_paths"]``.  If none was seen
(the mapping happened before the recording started, or the recording was attached late),
``jit-PID.dump`` is looked for in the process's cwd, stax's cwd and ``/tmp``, with a warning.
Either way a dump is read only if it is a regular file owned by root or by a uid the
process ran as (``context.options["process_owners"]``, see :mod:`stax.trusted_files`).

Which load: code addresses are reused once the runtime frees code, and the symbol-source
API hands over addresses without sample times, so an address is named after the *last*
JIT_CODE_LOAD or JIT_CODE_MOVE that covered it (a limitation: a sample taken before the
address was reused gets the later name).  Lines come from the JIT_CODE_DEBUG_INFO written
before that load: the entry with the greatest address at or below the frame's address.
"""

from __future__ import annotations

import bisect
import os
import re
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from stax.address_spaces import JITDUMP_PATHS_OPTION
from stax.contracts import SymbolContext, SymbolInfo
from stax.events import ImageKind
from stax.trusted_files import expected_owners
from stax_symbols.jitdump_reader import (
    JitCodeLoad,
    JitCodeMove,
    JitDebugEntry,
    Jitdump,
    load_jitdump,
)
from stax_symbols.perf_map_ranges import latest_covering

if TYPE_CHECKING:
    from stax.stack_table import Image

JITDUMP_ORDER = 150
"""Before perf maps (160): the same JIT images, but jitdump also has source lines."""

# V8 names code "JS:*fib /path/to/app.js:1:13": the script is the last word less line:column.
_SCRIPT_IN_NAME = re.compile(r" (\S+):\d+:\d+$")


@attrs.frozen(slots=True)
class _ProcessCode:
    """The code ranges of one process, oldest first, with the load each range runs."""

    starts: list[int]
    ends: list[int]
    loads: list[JitCodeLoad]
    bases: list[int]
    """Where the load's code starts in this range (code_addr, or new_code_addr after a move)."""


class JitdumpSource:
    """Names ``ImageKind.JIT`` and ``ImageKind.UNKNOWN`` frames (absolute addresses) of a pid."""

    name = "jitdump"
    order = JITDUMP_ORDER

    def __init__(self, search_dirs: Sequence[Path] | None = None) -> None:
        self._search_dirs = search_dirs
        self._pass: weakref.ref[SymbolContext] | None = None
        self._dumps: dict[tuple[str, frozenset[int]], Jitdump] = {}
        self._processes: dict[int, _ProcessCode | None] = {}
        self._lines: dict[int, tuple[list[int], list[JitDebugEntry]]] = {}

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        """Resolve absolute addresses in a per-process JIT/unknown image from the pid's jitdump."""
        if image.kind not in (ImageKind.JIT, ImageKind.UNKNOWN) or image.pid is None or not offsets:
            return {}
        self._start_pass(context)
        code = self._process_code(image.pid, context)
        if code is None:
            return {}
        out: dict[int, Sequence[SymbolInfo]] = {}
        for address, index in latest_covering(code.starts, code.ends, offsets).items():
            load = code.loads[index]
            offset = address - code.bases[index]
            file, line = self._line(load, offset)
            out[address] = (SymbolInfo(load.name, offset, file, line),)
        return out

    # -- per pass: each file is read once, and again in the next pass (it may have grown) -------

    def _start_pass(self, context: SymbolContext) -> None:
        if self._pass is None or self._pass() is not context:
            self._pass = weakref.ref(context)
            self._dumps.clear()
            self._processes.clear()
            self._lines.clear()

    def _process_code(self, pid: int, context: SymbolContext) -> _ProcessCode | None:
        if pid not in self._processes:
            dumps = [self._dump(path, pid, context) for path in self._paths(pid, context)]
            self._processes[pid] = _index(dumps) if dumps else None
        return self._processes[pid]

    def _dump(self, path: str, pid: int, context: SymbolContext) -> Jitdump:
        key = (path, expected_owners(pid, context.options))
        dump = self._dumps.get(key)
        if dump is None:
            dump = self._dumps[key] = load_jitdump(path, key[1])
            for problem in dump.problems:
                context.warn(problem)
        return dump

    def _paths(self, pid: int, context: SymbolContext) -> list[str]:
        """The dumps ``pid`` mapped; else one found by name, with a warning."""
        mapped = context.options.get(JITDUMP_PATHS_OPTION)
        if isinstance(mapped, Mapping):
            paths = mapped.get(pid) or mapped.get(str(pid))
            if paths:
                return [str(p) for p in paths]
        for directory in self._fallback_dirs(pid):
            candidate = directory / f"jit-{pid}.dump"
            if not os.path.lexists(candidate):
                continue
            dump = self._dump(str(candidate), pid, context)  # a FIFO or a link: skipped, said why
            if dump.header is None:
                continue
            if dump.header.pid not in (0, pid):
                continue  # another process's file under a recycled name
            context.warn(
                f"No mapping of a jitdump was recorded for pid {pid}, so stax used {candidate}"
                " found by name; if that is an older process's file, its JIT names are wrong."
            )
            return [str(candidate)]
        return []

    def _fallback_dirs(self, pid: int) -> list[Path]:
        if self._search_dirs is not None:
            return list(self._search_dirs)
        dirs: list[Path] = []
        try:
            dirs.append(Path(os.readlink(f"/proc/{pid}/cwd")))
        except OSError:
            pass  # exited, or not ours to read
        dirs.extend([Path.cwd(), Path("/tmp")])
        unique: list[Path] = []
        for d in dirs:
            if d not in unique:
                unique.append(d)
        return unique

    def _line(self, load: JitCodeLoad, offset: int) -> tuple[str | None, int | None]:
        """(file, line) of the debug entry at or before ``offset`` into the load's code."""
        if not load.debug:
            return None, None
        table = self._lines.get(id(load))  # loads live as long as the pass, so ids are stable
        if table is None:
            entries = sorted(load.debug, key=lambda e: e.address)
            table = self._lines[id(load)] = ([e.address - load.code_addr for e in entries], entries)
        offsets, entries = table
        at = bisect.bisect_right(offsets, offset) - 1
        if at < 0:
            return None, None
        entry = entries[at]
        file = entry.file
        if file is None:  # a damaged name (see jitdump_reader): V8 names the script in the code name
            match = _SCRIPT_IN_NAME.search(load.name)
            file = match.group(1) if match else None
        return file, entry.line or None


def _index(dumps: list[Jitdump]) -> _ProcessCode:
    """Every code range of the process's dumps, oldest first; a move reuses its load's name."""
    starts: list[int] = []
    ends: list[int] = []
    loads: list[JitCodeLoad] = []
    bases: list[int] = []
    by_index: dict[int, JitCodeLoad] = {}
    for dump in dumps:
        for code in dump.code:
            if isinstance(code, JitCodeLoad):
                by_index[code.code_index] = code
                load, base, size = code, code.code_addr, code.code_size
            elif isinstance(code, JitCodeMove):
                moved = by_index.get(code.code_index)
                if moved is None:
                    continue  # a move of code loaded before the file began
                load, base, size = moved, code.new_code_addr, code.code_size
            else:
                continue
            if size <= 0:
                continue
            starts.append(base)
            ends.append(base + size)
            loads.append(load)
            bases.append(base)
    return _ProcessCode(starts, ends, loads, bases)
