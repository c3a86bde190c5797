"""The query parameters every ``/api/*`` view honours, parsed once into a :class:`ViewQuery`.

The page puts its whole selection in its URL and sends the same parameters to every
view (see API.md): the mode (on-CPU samples, blocked time, runnable wait), the threads
and the time range, and the call-tree transforms (drop kernel frames, invert, focus on a
function, merge a function into its callers, collapse a library into one frame).  A
bad value is one sentence and a 400, never a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from stax.recording.reader import SampleFilter

MODES = ("cpu", "offcpu", "runnable")
MAX_NAMES = 64
"""Repeated focus/merge/collapse values accepted at most (a URL is no place for more)."""
MAX_TIDS = 4096


class QueryError(ValueError):
    """A parameter the server cannot use; the message is the sentence for ``{"error": ...}``."""


@attrs.frozen(slots=True)
class ViewQuery:
    """One view's selection: ``start``/``end`` in ns since the recording's first event."""

    mode: str = "cpu"
    tids: frozenset[int] = frozenset()
    start: int | None = None
    end: int | None = None
    kernel: bool = True
    invert: bool = False
    focus: tuple[str, ...] = ()
    merge: tuple[str, ...] = ()
    collapse: tuple[str, ...] = ()

    def sample_filter(self, origin_ns: int) -> SampleFilter:
        """The reader's filter: the threads, and the time range on the recording's clock."""
        return SampleFilter(tids=self.tids,
                            start=None if self.start is None else origin_ns + self.start,
                            end=None if self.end is None else origin_ns + self.end)

    @property
    def selection(self) -> tuple[object, ...]:
        """What the aggregated profile depends on (the transforms are applied after)."""
        return (self.mode, self.tids, self.start, self.end)

    @property
    def transforms(self) -> tuple[object, ...]:
        """What the transformed profile adds to :attr:`selection`."""
        return (self.kernel, self.merge, self.collapse, self.focus)

    @property
    def transformed(self) -> bool:
        return bool(not self.kernel or self.focus or self.merge or self.collapse)

    @property
    def unit(self) -> str:
        return "samples" if self.mode == "cpu" else "ns"

    def with_selection_only(self) -> ViewQuery:
        """The same mode and transforms over the whole recording (what a ``--base`` shows)."""
        return attrs.evolve(self, tids=frozenset(), start=None, end=None)


def parse_query(params: Mapping[str, str], lists: Mapping[str, Sequence[str]]) -> ViewQuery:
    """A :class:`ViewQuery` from a request's query string (``lists``: every value of each key)."""
    mode = params.get("mode", "") or "cpu"
    if mode not in MODES:
        raise QueryError(f"mode={mode!r} is not a mode; use cpu, offcpu or runnable.")
    start = _ns(params, "start")
    end = _ns(params, "end")
    if start is not None and end is not None and end <= start:
        raise QueryError(f"end={end} is not after start={start}; give a non-empty time range.")
    return ViewQuery(
        mode=mode,
        tids=_tids(params.get("tids", "")),
        start=start,
        end=end,
        kernel=_flag(params, "kernel", True),
        invert=_flag(params, "invert", False),
        focus=_names(lists, "focus"),
        merge=_names(lists, "merge"),
        collapse=_names(lists, "collapse"),
    )


def int_param(params: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    """An integer parameter in ``[low, high]`` (``default`` when absent or empty)."""
    raw = params.get(key, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"{key}={raw!r} is not a whole number; give one from {low} to {high}.") from None
    if not low <= value <= high:
        raise QueryError(f"{key}={value} is out of range; give one from {low} to {high}.")
    return value


def _ns(params: Mapping[str, str], key: str) -> int | None:
    raw = params.get(key, "")
    if raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"{key}={raw!r} is not a time in ns; give a whole number of ns since the"
                         " recording's start.") from None
    if not 0 <= value < 2**62:
        raise QueryError(f"{key}={value} is outside the recording; give ns since its start (>= 0).")
    return value


def _tids(raw: str) -> frozenset[int]:
    out: set[int] = set()
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or len(part) > 10:
            raise QueryError(f"tids: {part!r} is not a thread id; give comma-separated numbers.")
        out.add(int(part))
    if len(out) > MAX_TIDS:
        raise QueryError(f"tids lists {len(out)} threads; give at most {MAX_TIDS}, or none for all.")
    return frozenset(out)


def _flag(params: Mapping[str, str], key: str, default: bool) -> bool:
    raw = params.get(key, "")
    if raw == "":
        return default
    if raw in ("1", "true"):
        return True
    if raw in ("0", "false"):
        return False
    raise QueryError(f"{key}={raw!r} is not a flag; use {key}=1 or {key}=0.")


def _names(lists: Mapping[str, Sequence[str]], key: str) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(v for v in lists.get(key, ()) if v))
    if len(values) > MAX_NAMES:
        raise QueryError(f"{key} is given {len(values)} times; give at most {MAX_NAMES}.")
    return values
