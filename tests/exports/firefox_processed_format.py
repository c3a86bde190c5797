"""A structural check of the Firefox Profiler's processed profile format, version 70.

Written from ``src/types/profile.ts`` and ``src/types/markers.ts`` of firefox-devtools/profiler
(commit df31314e16bf32fd3a6dd0d61806a80dbb8a99f5, ``PROCESSED_PROFILE_VERSION`` 70): every
field those types do not mark optional must be there with its type, every table's columns
as long as its ``length``, and every index point into the table it names (the profiler
trusts them and breaks on a bad one).  :func:`problems` lists what is wrong, one sentence
each; an empty list means the file has the shape the profiler reads.
"""

from __future__ import annotations

from numbers import Real

VERSION = 70
CATEGORY_COLORS = {"transparent", "purple", "green", "orange", "yellow", "lightblue", "blue", "brown",
                   "magenta", "red", "lightred", "darkgrey", "grey"}
MARKER_DISPLAY = {"marker-chart", "marker-table", "timeline-overview", "timeline-memory", "timeline-ipc",
                  "timeline-fileio", "timeline-network", "stack-chart"}
MARKER_FORMATS = {"url", "file-path", "sanitized-string", "string", "unique-string", "flow-id",
                  "terminating-flow-id", "duration", "time", "seconds", "milliseconds", "microseconds",
                  "nanoseconds", "bytes", "percentage", "integer", "decimal", "hexadecimal", "pid", "tid",
                  "list"}
WEIGHT_TYPES = {"samples", "tracing-ms", "bytes"}

NUMBER, STRING, BOOL, LIST, DICT = "number", "string", "boolean", "array", "object"
META = {"interval": NUMBER, "startTime": NUMBER, "processType": NUMBER, "product": STRING,
        "stackwalk": NUMBER, "version": NUMBER, "preprocessedProfileVersion": NUMBER, "markerSchema": LIST}
LIB = {"arch": STRING, "name": STRING, "path": STRING, "debugName": STRING, "debugPath": STRING,
       "breakpadId": STRING}
THREAD = {"processType": STRING, "processStartupTime": NUMBER, "registerTime": NUMBER,
          "pausedRanges": LIST, "name": STRING, "isMainThread": BOOL, "pid": STRING, "samples": DICT,
          "markers": DICT}
TABLES = {
    "stackTable": ("frame", "prefixOffset"),
    "frameTable": ("address", "lib", "inlineDepth", "category", "subcategory", "func", "nativeSymbol",
                   "innerWindowID", "line", "column", "originalLocation"),
    "funcTable": ("name", "isJS", "relevantForJS", "resource", "source", "lineNumber", "columnNumber",
                  "originalLocation"),
    "resourceTable": ("name", "host", "type"),
    "nativeSymbols": ("libIndex", "address", "name", "functionSize"),
    "sources": ("id", "filename", "startLine", "startColumn", "sourceMapURL", "content"),
    "sourceLocationTable": ("source", "line", "column"),
}
SAMPLES = ("stack", "weight", "weightType")
MARKERS = ("data", "name", "startTime", "endTime", "phase", "category")


def _is(value: object, kind: str) -> bool:
    if kind == NUMBER:
        return isinstance(value, Real) and not isinstance(value, bool)
    return isinstance(value, {STRING: str, BOOL: bool, LIST: list, DICT: dict}[kind])


def _fields(obj: object, spec: dict[str, str], where: str, out: list[str]) -> bool:
    if not isinstance(obj, dict):
        out.append(f"{where} is not an object.")
        return False
    for key, kind in spec.items():
        if key not in obj:
            out.append(f"{where}.{key} is missing.")
        elif not _is(obj[key], kind):
            out.append(f"{where}.{key} is not a {kind}.")
    return True


def _table(table: object, columns: tuple[str, ...], where: str, out: list[str]) -> int:
    """Check a struct-of-arrays table; its length (0 when unusable)."""
    if not isinstance(table, dict) or not isinstance(table.get("length"), int):
        out.append(f"{where} has no integer length.")
        return 0
    length = table["length"]
    for column in columns:
        values = table.get(column)
        if not isinstance(values, list):
            out.append(f"{where}.{column} is missing or not an array.")
        elif len(values) != length:
            out.append(f"{where}.{column} has {len(values)} entries, not length {length}.")
    return length


def _indices(values: object, limit: int, where: str, out: list[str], *, null: bool = False,
             sentinel: int | None = None) -> None:
    """Every value an index below ``limit`` (or None with ``null``, or ``sentinel``)."""
    for i, value in enumerate(values if isinstance(values, list) else []):
        if value is None and null or sentinel is not None and value == sentinel:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < limit:
            out.append(f"{where}[{i}] = {value!r} is not an index below {limit}.")
            return


def problems(profile: object) -> list[str]:
    """What keeps ``profile`` (a parsed JSON file) from being a version-70 processed profile."""
    out: list[str] = []
    if not isinstance(profile, dict):
        return ["The profile is not a JSON object."]
    for key, kind in (("meta", DICT), ("libs", LIST), ("shared", DICT), ("threads", LIST)):
        if not _is(profile.get(key), kind):
            out.append(f"profile.{key} is missing or not an {kind}.")
    if out:
        return out
    meta, libs, shared = profile["meta"], profile["libs"], profile["shared"]
    _fields(meta, META, "meta", out)
    if meta.get("preprocessedProfileVersion") != VERSION:
        version = meta.get("preprocessedProfileVersion")
        out.append(f"meta.preprocessedProfileVersion is {version!r}, not {VERSION}.")
    categories = meta.get("categories")
    if categories is not None:
        if not isinstance(categories, list) or not any(c.get("color") == "grey" for c in categories):
            out.append("meta.categories has no grey (default) category.")
        for i, category in enumerate(categories or []):
            if category.get("color") not in CATEGORY_COLORS:
                out.append(f"meta.categories[{i}].color {category.get('color')!r} is not a category colour.")
            subcategories = category.get("subcategories")
            if not isinstance(subcategories, list) or not subcategories:
                out.append(f"meta.categories[{i}].subcategories is empty.")
    else:
        categories = [{"subcategories": ["Other"]}] * 8  # the profiler's default list
    schemas: dict[str, set[str]] = {}
    for i, schema in enumerate(meta.get("markerSchema") or []):
        if not isinstance(schema.get("name"), str):
            out.append(f"meta.markerSchema[{i}].name is not a string.")
            continue
        if not set(schema.get("display", [None])) <= MARKER_DISPLAY:
            out.append(f"meta.markerSchema[{i}].display has an unknown location.")
        for field in schema.get("fields", None) or []:
            if not isinstance(field.get("key"), str) or field.get("format") not in MARKER_FORMATS:
                out.append(f"meta.markerSchema[{i}] field {field!r} needs a key and a known format.")
        if "fields" not in schema:
            out.append(f"meta.markerSchema[{i}].fields is missing.")
        schemas[schema["name"]] = {f.get("key") for f in schema.get("fields", [])}
    for i, lib in enumerate(libs):
        _fields(lib, LIB, f"libs[{i}]", out)
        if "codeId" not in lib or not (lib["codeId"] is None or isinstance(lib["codeId"], str)):
            out.append(f"libs[{i}].codeId must be a string or null.")

    lengths = {name: _table(shared.get(name), columns, f"shared.{name}", out)
               for name, columns in TABLES.items()}
    strings = shared.get("stringArray")
    if not isinstance(strings, list) or not all(isinstance(s, str) for s in strings):
        out.append("shared.stringArray is not an array of strings.")
        strings = []
    stack, frame, func = shared["stackTable"], shared["frameTable"], shared["funcTable"]
    _indices(stack.get("frame"), lengths["frameTable"], "stackTable.frame", out)
    for i, offset in enumerate(stack.get("prefixOffset") or []):
        if not isinstance(offset, int) or not 0 <= offset <= i:
            out.append(f"stackTable.prefixOffset[{i}] = {offset!r} does not point back to an earlier stack.")
            break
    _indices(frame.get("func"), lengths["funcTable"], "frameTable.func", out)
    _indices(frame.get("lib"), len(libs), "frameTable.lib", out, sentinel=-1)
    _indices(frame.get("category"), len(categories), "frameTable.category", out, null=True)
    _indices(frame.get("nativeSymbol"), lengths["nativeSymbols"], "frameTable.nativeSymbol", out, null=True)
    for i, (category, sub) in enumerate(zip(frame.get("category") or [], frame.get("subcategory") or [],
                                            strict=False)):
        if category is not None and isinstance(category, int) and category < len(categories):
            if not isinstance(sub, int) or not 0 <= sub < len(categories[category]["subcategories"]):
                out.append(f"frameTable.subcategory[{i}] = {sub!r} is not a subcategory of"
                           f" category {category}.")
                break
    for i, depth in enumerate(frame.get("inlineDepth") or []):
        if not isinstance(depth, int) or depth < 0:
            out.append(f"frameTable.inlineDepth[{i}] = {depth!r} is not a depth.")
            break
    _indices(func.get("name"), len(strings), "funcTable.name", out)
    _indices(func.get("resource"), lengths["resourceTable"], "funcTable.resource", out, sentinel=-1)
    _indices(func.get("source"), lengths["sources"], "funcTable.source", out, null=True)
    _indices(shared["resourceTable"].get("name"), len(strings), "resourceTable.name", out)
    _indices(shared["sources"].get("filename"), len(strings), "sources.filename", out)

    for t, thread in enumerate(profile["threads"]):
        where = f"threads[{t}]"
        if not _fields(thread, THREAD, where, out):
            continue
        for key in ("processShutdownTime", "unregisterTime"):
            if key not in thread or not (thread[key] is None or _is(thread[key], NUMBER)):
                out.append(f"{where}.{key} must be a number or null.")
        if not isinstance(thread.get("tid"), int | str):
            out.append(f"{where}.tid is not a number or string.")
        samples = thread["samples"]
        count = _table(samples, SAMPLES[:1], f"{where}.samples", out)
        times = samples.get("time", samples.get("timeDeltas"))
        if not isinstance(times, list) or len(times) != count:
            out.append(f"{where}.samples needs a time (or timeDeltas) column of length {count}.")
        elif "time" in samples and any(b < a for a, b in zip(times, times[1:], strict=False)):
            out.append(f"{where}.samples.time is not in time order.")
        if samples.get("weightType") not in WEIGHT_TYPES:
            out.append(f"{where}.samples.weightType {samples.get('weightType')!r} is not a weight type.")
        weight = samples.get("weight", "missing")
        column = isinstance(weight, list) and len(weight) == count
        if weight == "missing" or weight is not None and not column:
            out.append(f"{where}.samples.weight must be null or a column of length {count}.")
        _indices(samples.get("stack"), lengths["stackTable"], f"{where}.samples.stack", out, null=True)
        markers = thread["markers"]
        _table(markers, MARKERS, f"{where}.markers", out)
        _indices(markers.get("name"), len(strings), f"{where}.markers.name", out)
        _indices(markers.get("category"), len(categories), f"{where}.markers.category", out)
        for i, phase in enumerate(markers.get("phase") or []):
            if phase not in (0, 1, 2, 3):
                out.append(f"{where}.markers.phase[{i}] = {phase!r} is not a marker phase.")
                break
        for i, data in enumerate(markers.get("data") or []):
            if data is None:
                continue
            kind = data.get("type")
            if kind not in schemas:
                out.append(f"{where}.markers.data[{i}] has type {kind!r}, which no marker schema names.")
                break
            if not set(data) - {"type"} <= schemas[kind]:
                out.append(f"{where}.markers.data[{i}] has fields its schema {kind!r} does not list.")
                break
    return out
