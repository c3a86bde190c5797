"""``firefox``: a timeline as the Firefox Profiler's processed profile format, version 70.

The Firefox Profiler (profiler.firefox.com, "Load a profile from file") reads two of its
own formats: the Gecko format Firefox writes, and the *processed* format it keeps
internally and upgrades from any older version.  This writes the processed format, as
defined by ``src/types/profile.ts`` of firefox-devtools/profiler at
``PROCESSED_PROFILE_VERSION`` 70 (``meta.preprocessedProfileVersion``), because only it
has what stax records: sample weights (the Gecko format counts samples), native frames
with inline depths, libraries with build ids, and categories per frame.

- **One track per thread** (threads of a process share its ``pid``): samples are the
  timeline's per-slice totals (:class:`stax.analysis.timeline.Timeline`), each at its
  slice's start and weighted by the CPU time it stands for (``weightType: "tracing-ms"``),
  and each off-CPU span is a sample at its start, weighted by its length, whose stack
  ends in an ``[off-CPU: REASON]`` frame: the call tree and flame graph show where a
  thread's wall time went.  A recording of an event that is not a clock (``stax record -e
  page-faults``) weighs its samples in events (``weightType: "samples"``, the event named
  in ``meta.product``); its off-CPU spans are then markers only, never added to events.
- **Categories**: ``User`` and ``Kernel`` for frames, ``Off-CPU`` (drawn as idle in the
  activity graph) with one subcategory per blocked reason for the off-CPU leaf frames.
- **Markers**: every off-CPU span is an interval marker ``Off-CPU: REASON`` of schema
  ``OffCPU`` with its reason and wait site, in the marker chart and the track.
- Frames are the recorded addresses (library-relative file offsets; -1 for kernel and
  JIT code, whose absolute addresses do not fit a JavaScript number), one per inline
  depth; functions carry their source file; libraries their path and build id
  (``codeId``; ``breakpadId`` derived from it as Breakpad does on Linux).

Times are milliseconds since the first sample or span of the selection.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from stax.recording import meta_keys as mk
from stax.views import ViewKind
from stax_render.json_output import write_json

if TYPE_CHECKING:
    from stax.analysis.recorded_stacks import FrameDetail
    from stax.analysis.timeline import Timeline
    from stax.contracts import RenderOptions

PROCESSED_PROFILE_VERSION = 70
GECKO_PROFILE_VERSION = 36
"""The profiler's format versions this writes (``src/app-logic/constants.ts``)."""
MS = 1e6
OFF_CPU_MARKER = "OffCPU"
OTHER, USER, KERNEL, OFF_CPU = range(4)


class FirefoxRenderer:
    """The Firefox Profiler's processed format (JSON): a track per thread, off-CPU markers."""

    name = "firefox"
    view = ViewKind.TIMELINE
    formats = ("json",)
    description = "Firefox Profiler processed profile (JSON): a track per thread, off-CPU markers."

    def render(self, timeline: Timeline, options: RenderOptions, out: IO[str]) -> None:
        write_json(firefox_profile(timeline), out, compact=True)


def firefox_profile(timeline: Timeline) -> dict[str, object]:
    """The processed profile of ``timeline`` as a JSON-ready dict."""
    from stax.analysis.sample_weight import sample_weight
    from stax.blocked_reason import BlockedReason

    reasons = [str(reason) for reason in BlockedReason]  # the Off-CPU subcategories after "Other"
    tables = _SharedTables(timeline, reasons)
    names = {(t.pid, t.tid): t for t in timeline.threads}
    weight = sample_weight(timeline.meta)
    scale = MS if weight.is_time else 1  # CPU ns -> ms; another event's weight is a count of events
    rows: dict[tuple[int, int], list[tuple[float, int, float]]] = {}
    for cut in timeline.slices:
        rows.setdefault((cut.pid, cut.tid), []).append(
            (cut.start_ns / MS, tables.stack(cut.stack_id), cut.weight / scale))
    markers: dict[tuple[int, int], list[tuple[float, float, str, str]]] = {}
    for span in timeline.spans:
        key = (span.pid, span.tid)
        start, end = span.start_ns / MS, span.end_ns / MS
        if weight.is_time:  # ms of wall time beside ms of CPU time; never beside events
            rows.setdefault(key, []).append((start, tables.stack(span.stack_id, span.reason), end - start))
        markers.setdefault(key, []).append((start, end, span.reason, span.wait_site))
    threads = []
    for (pid, tid), samples in sorted(rows.items()):
        samples.sort()
        row = names.get((pid, tid))
        name = row.name if row else "?"
        threads.append({
            "processType": "default", "processStartupTime": 0, "processShutdownTime": None,
            "registerTime": 0, "unregisterTime": None, "pausedRanges": [],
            "name": name, "processName": row.process_name if row else name,
            "isMainThread": pid == tid, "pid": str(pid), "tid": tid,
            "samples": {"stack": [s for _, s, _ in samples], "time": [t for t, _, _ in samples],
                        "weight": [w for _, _, w in samples],
                        "weightType": "tracing-ms" if weight.is_time else "samples",
                        "length": len(samples)},
            "markers": tables.markers(markers.get((pid, tid), [])),
        })
    period = timeline.sample_period_ns
    from stax import __version__

    return {
        "meta": {
            "interval": period / MS if period else 1.0, "startTime": 0, "processType": 0,
            "product": f"stax {__version__}: {timeline.meta.get(mk.TARGET, timeline.source)}"
                       + ("" if weight.is_time else f" ({weight.label})"),
            "stackwalk": 1, "debug": False, "version": GECKO_PROFILE_VERSION,
            "preprocessedProfileVersion": PROCESSED_PROFILE_VERSION,
            "categories": _categories(reasons), "markerSchema": [_off_cpu_schema()],
            "profilingStartTime": 0, "profilingEndTime": timeline.end_ns / MS,
            "symbolicated": True, "importedFrom": "stax", "usesOnlyOneStackType": True,
            "sourceCodeIsNotOnSearchfox": True, "keepProfileThreadOrder": True,
            "platform": "X11", "oscpu": str(timeline.meta.get(mk.KERNEL, "")),
        },
        "libs": tables.libs,
        "pages": [],
        "shared": tables.shared(),
        "threads": threads,
    }


def _categories(reasons: list[str]) -> list[dict[str, object]]:
    return [
        {"name": "Other", "color": "grey", "subcategories": ["Other"]},
        {"name": "User", "color": "yellow", "subcategories": ["Other"]},
        {"name": "Kernel", "color": "orange", "subcategories": ["Other"]},
        {"name": "Off-CPU", "color": "transparent", "subcategories": ["Other", *reasons]},
    ]


def _off_cpu_schema() -> dict[str, object]:
    return {
        "name": OFF_CPU_MARKER, "tooltipLabel": "Off-CPU: {marker.data.reason}",
        "tableLabel": "{marker.data.reason} at {marker.data.waitSite}",
        "chartLabel": "{marker.data.reason}",
        "display": ["marker-chart", "marker-table", "timeline-overview"],
        "description": "The thread was off the CPU: blocked for this reason, or runnable but"
                       " preempted (waiting for a CPU).",
        "fields": [{"key": "reason", "label": "Reason", "format": "string"},
                   {"key": "waitSite", "label": "Wait site", "format": "string"}],
    }


def breakpad_id(build_id: bytes) -> str:
    """The Breakpad debug id of an ELF build id: its first 16 bytes as a GUID (the first
    three fields byte-swapped), upper-case hex, and age 0."""
    guid = (build_id + bytes(16))[:16]
    swapped = guid[3::-1] + guid[5:3:-1] + guid[7:5:-1] + guid[8:]
    return swapped.hex().upper() + "0"


class _SharedTables:
    """``profile.shared``: strings, stacks, frames, functions, resources and sources, interned."""

    def __init__(self, timeline: Timeline, reasons: list[str]) -> None:
        self.stacks = timeline.stacks
        self.reasons = reasons
        self.strings: dict[str, int] = {}
        self.stack_rows: dict[tuple[int, int], int] = {}  # (prefix row or -1, frame row) -> row
        self.stack_frame: list[int] = []
        self.stack_prefix_offset: list[int] = []
        self.frame_rows: dict[tuple[int, int] | str, int] = {}  # (recorded frame, depth) or name -> row
        self.frames: dict[str, list[object]] = {k: [] for k in (
            "address", "lib", "inlineDepth", "category", "subcategory", "func", "nativeSymbol",
            "innerWindowID", "line", "column", "originalLocation")}
        self.func_rows: dict[tuple[str, str | None, int], int] = {}
        self.funcs: dict[str, list[object]] = {k: [] for k in (
            "name", "isJS", "relevantForJS", "resource", "source", "lineNumber", "columnNumber",
            "originalLocation")}
        self.lib_rows: dict[int, int] = {}  # image id -> lib index (= resource index)
        self.libs: list[dict[str, object]] = []
        self.resources: dict[str, list[object]] = {"name": [], "host": [], "type": []}
        self.source_rows: dict[str, int] = {}
        self.sources: dict[str, list[object]] = {k: [] for k in (
            "id", "filename", "startLine", "startColumn", "sourceMapURL", "content")}
        self.chains: dict[int, list[int]] = {}  # recorded frame -> frame rows, outermost first
        self.stack_memo: dict[tuple[int, str | None], int] = {}  # (recorded stack, reason) -> row

    def string(self, text: str) -> int:
        index = self.strings.get(text)
        if index is None:
            index = self.strings[text] = len(self.strings)
        return index

    def stack(self, stack_id: int, reason: str | None = None) -> int:
        """The stack-table row of a recorded stack, with an off-CPU leaf frame for ``reason``."""
        key = (stack_id, reason)
        row = self.stack_memo.get(key)
        if row is None:
            row = self.stack_memo[key] = self._stack(stack_id, reason)
        return row

    def _stack(self, stack_id: int, reason: str | None) -> int:
        rows: list[int] = []
        for frame_id in self.stacks.frames_of(stack_id):
            chain = self.chains.get(frame_id)
            if chain is None:
                chain = self.chains[frame_id] = self._frame_chain(frame_id)
            rows.extend(reversed(chain))
        rows.reverse()
        if not rows:
            from stax.analysis.profile import NO_STACK_NAME

            rows.append(self._synthetic_frame(NO_STACK_NAME, OTHER, 0))
        if reason is not None:
            subcategory = self.reasons.index(reason) + 1 if reason in self.reasons else 0
            rows.append(self._synthetic_frame(f"[off-CPU: {reason}]", OFF_CPU, subcategory))
        prefix = -1
        for frame_row in rows:
            key = (prefix, frame_row)
            row = self.stack_rows.get(key)
            if row is None:
                row = self.stack_rows[key] = len(self.stack_frame)
                self.stack_frame.append(frame_row)
                self.stack_prefix_offset.append(0 if prefix < 0 else row - prefix)
            prefix = row
        return prefix

    def _frame_chain(self, frame_id: int) -> list[int]:
        """Frame rows of one recorded frame: the function (depth 0), then its inlined calls."""
        frame = self.stacks.frames[frame_id]
        lib = self._lib(frame)
        address = -1 if self.stacks.is_absolute(frame.image_id) else frame.address
        category = KERNEL if frame.is_kernel else USER
        rows = []
        for depth, line in enumerate(reversed(frame.lines)):
            func = self._func(line.function, line.file, lib)
            rows.append(self._frame_row((frame_id, depth), address, lib, depth, category, 0, func, line.line))
        return rows

    def _synthetic_frame(self, name: str, category: int, subcategory: int) -> int:
        """A frame stax adds (no stack, an off-CPU reason): no address, no library."""
        return self._frame_row(name, -1, -1, 0, category, subcategory, self._func(name, None, -1), None)

    def _frame_row(self, key: tuple[int, int] | str, address: int, lib: int, depth: int, category: int,
                   subcategory: int, func: int, line: int | None) -> int:
        row = self.frame_rows.get(key)
        if row is None:
            row = self.frame_rows[key] = len(self.frames["func"])
            for column, value in (("address", address), ("lib", lib), ("inlineDepth", depth),
                                  ("category", category), ("subcategory", subcategory), ("func", func),
                                  ("nativeSymbol", None), ("innerWindowID", 0), ("line", line),
                                  ("column", None), ("originalLocation", None)):
                self.frames[column].append(value)
        return row

    def _func(self, name: str, file: str | None, resource: int) -> int:
        key = (name, file, resource)
        row = self.func_rows.get(key)
        if row is None:
            row = self.func_rows[key] = len(self.funcs["name"])
            for column, value in (("name", self.string(name)), ("isJS", False), ("relevantForJS", False),
                                  ("resource", resource), ("source", self._source(file)),
                                  ("lineNumber", None), ("columnNumber", None), ("originalLocation", None)):
                self.funcs[column].append(value)
        return row

    def _source(self, file: str | None) -> int | None:
        if not file:
            return None
        row = self.source_rows.get(file)
        if row is None:
            row = self.source_rows[file] = len(self.sources["filename"])
            for column, value in (("id", None), ("filename", self.string(file)), ("startLine", 1),
                                  ("startColumn", 1), ("sourceMapURL", None), ("content", None)):
                self.sources[column].append(value)
        return row

    def _lib(self, frame: FrameDetail) -> int:
        row = self.lib_rows.get(frame.image_id)
        if row is None:
            image = self.stacks.images.get(frame.image_id)
            path = image.path if image else "?"
            name = image.name if image else "?"
            build_id = image.build_id if image else None
            row = self.lib_rows[frame.image_id] = len(self.libs)
            self.libs.append({"arch": "", "name": name, "path": path, "debugName": name, "debugPath": path,
                              "breakpadId": breakpad_id(build_id) if build_id else "",
                              "codeId": build_id.hex() if build_id else None})
            self.resources["name"].append(self.string(name))
            self.resources["host"].append(None)
            self.resources["type"].append(1)  # ResourceType.Library
        return row

    def markers(self, spans: list[tuple[float, float, str, str]]) -> dict[str, object]:
        spans.sort()
        return {
            "data": [{"type": OFF_CPU_MARKER, "reason": reason, "waitSite": site}
                     for _, _, reason, site in spans],
            "name": [self.string(f"Off-CPU: {reason}") for _, _, reason, _ in spans],
            "startTime": [start for start, _, _, _ in spans],
            "endTime": [end for _, end, _, _ in spans],
            "phase": [1] * len(spans),  # Interval
            "category": [OFF_CPU] * len(spans),
            "length": len(spans),
        }

    def shared(self) -> dict[str, object]:
        """The tables, once every stack and marker has been interned."""
        return {
            "stackTable": {"frame": self.stack_frame, "prefixOffset": self.stack_prefix_offset,
                           "length": len(self.stack_frame)},
            "frameTable": {**self.frames, "length": len(self.frames["func"])},
            "funcTable": {**self.funcs, "length": len(self.funcs["name"])},
            "resourceTable": {**self.resources, "length": len(self.resources["name"])},
            "nativeSymbols": {"libIndex": [], "address": [], "name": [], "functionSize": [], "length": 0},
            "stringArray": list(self.strings),
            "sources": {**self.sources, "length": len(self.sources["filename"])},
            "sourceLocationTable": {"source": [], "line": [], "column": [], "length": 0},
        }
