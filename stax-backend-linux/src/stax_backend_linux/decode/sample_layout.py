"""Where each field of one event's records sits, computed from its perf_event_attr.

perf_event.h (``enum perf_event_type``, PERF_RECORD_SAMPLE): a sample holds the fields
its ``sample_type`` asks for, in this order: IDENTIFIER, IP, TID (u32 pid, tid), TIME,
ADDR, ID, STREAM_ID, CPU (u32 cpu, res), PERIOD, READ (``struct read_format``, shaped
by ``read_format``; with PERF_FORMAT_GROUP its length depends on the group size),
CALLCHAIN (u64 nr, ips[nr]), RAW (u32 size, data) and more that stax does not read.
With ``sample_id_all`` every other record ends in ``struct sample_id``: TID, TIME, ID,
STREAM_ID, CPU, IDENTIFIER, each only when asked for.

``stax record`` opens its events with one layout (``perf_event_attr.SAMPLE_TYPE``, plus
IDENTIFIER when events share a ring); a perf.data file holds one attr per event, each
with its own layout.  :class:`RecordDecoder` asks a :class:`SampleLayout` for the
fields, so one decoder reads both.  A field an event lacks reads as -1 (pid, tid, cpu),
0 (time, period) or :data:`NO_IP`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from operator import itemgetter

from stax_binfmt import perf_event_attr as pea

NO_IP = 2**64 - 1
"""The ip of a sample without PERF_SAMPLE_IP: above PERF_CONTEXT_MAX, so never a frame."""

SampleFields = tuple[int, int, int, int, int, int, int, int]
"""(ip, pid, tid, time, cpu, period, callchain nr, byte offset of the callchain's ips)."""
SampleReader = Callable[[bytes, int], SampleFields]
IdReader = Callable[[bytes, int], tuple[int, int, int, int]]
"""(pid, tid, time, cpu) of the sample_id trailer of a record ending at the given offset."""

_WANTED = ("ip", "pid", "tid", "time", "cpu", "period", "nr")
_DEFAULTS = {"ip": NO_IP, "pid": -1, "tid": -1, "time": 0, "cpu": -1, "period": 0, "nr": 0}
_U64 = struct.Struct("<Q")

# (sample_type bit, struct format, the names it unpacks), in record order
_SAMPLE_PREFIX = (
    (pea.PERF_SAMPLE_IDENTIFIER, "8x", ()),
    (pea.PERF_SAMPLE_IP, "Q", ("ip",)),
    (pea.PERF_SAMPLE_TID, "II", ("pid", "tid")),
    (pea.PERF_SAMPLE_TIME, "Q", ("time",)),
    (pea.PERF_SAMPLE_ADDR, "8x", ()),
    (pea.PERF_SAMPLE_ID, "8x", ()),
    (pea.PERF_SAMPLE_STREAM_ID, "8x", ()),
    (pea.PERF_SAMPLE_CPU, "I4x", ("cpu",)),
    (pea.PERF_SAMPLE_PERIOD, "Q", ("period",)),
)
_SAMPLE_ID = (
    (pea.PERF_SAMPLE_TID, "II", ("pid", "tid")),
    (pea.PERF_SAMPLE_TIME, "Q", ("time",)),
    (pea.PERF_SAMPLE_ID, "8x", ()),
    (pea.PERF_SAMPLE_STREAM_ID, "8x", ()),
    (pea.PERF_SAMPLE_CPU, "I4x", ("cpu",)),
    (pea.PERF_SAMPLE_IDENTIFIER, "8x", ()),
)


def _words(fmt: str) -> int:
    return struct.calcsize("<" + fmt) // 8


def _picker(names: list[str], wanted: tuple[str, ...]) -> tuple[Callable[[tuple], tuple], tuple]:
    """itemgetter over ``values + defaults`` that returns ``wanted`` in order."""
    defaults = tuple(_DEFAULTS[n] for n in wanted if n not in names)
    extra = [n for n in wanted if n not in names]
    index = [names.index(n) if n in names else len(names) + extra.index(n) for n in wanted]
    return itemgetter(*index), defaults


class SampleLayout:
    """The layout of one event's samples and sample_id trailers.

    ``sample(chunk, off)`` reads the record starting at ``off``; ``sample_id(chunk, end)``
    the trailer of the record ending at ``end``.  ``id_word`` is the u64 index (from the
    record's start) of a sample's event id and ``trailer_id_word`` its index counted back
    from a record's end (1 = the last u64), or None when the event has no id.
    """

    def __init__(self, sample_type: int, read_format: int = 0, sample_id_all: bool = True) -> None:
        self.sample_type = sample_type
        self.read_format = read_format if sample_type & pea.PERF_SAMPLE_READ else 0  # else never read
        self.sample_id_all = sample_id_all
        self.sample: SampleReader = self._sample_reader()
        self.sample_id, self.trailer_size = self._id_reader()
        self.id_word, self.trailer_id_word = self._id_positions()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SampleLayout) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def key(self) -> tuple[int, int, bool]:
        return self.sample_type, self.read_format, self.sample_id_all

    @property
    def trailer_key(self) -> tuple[int, bool]:
        """What shapes the sample_id trailer: layouts with the same key read records alike."""
        return self.sample_type & _ID_FIELDS, self.sample_id_all

    def __repr__(self) -> str:
        return f"SampleLayout({self.sample_type:#x}, {self.read_format:#x}, {self.sample_id_all})"

    def compiled(self) -> dict[str, int] | None:
        """Where the compiled scan (fast_decode.c's ``stax_layout``) finds each field: byte offsets
        from a sample's start, or back from a record's end for the trailer; -1 where absent.
        None when a field's place varies from sample to sample (a PERF_FORMAT_GROUP read)."""
        read = self.read_words()
        if read is None:
            return None
        st = self.sample_type
        found = dict.fromkeys(("ip", "pid", "time", "cpu", "period", "nr", "id"), -1)
        at = 8  # after perf_event_header
        for bit, part, fields in _SAMPLE_PREFIX:
            if st & bit:
                if fields:
                    found[fields[0]] = at
                elif bit == pea.PERF_SAMPLE_IDENTIFIER or (bit == pea.PERF_SAMPLE_ID and found["id"] < 0):
                    found["id"] = at
                at += struct.calcsize("<" + part)
        at += 8 * read
        if st & pea.PERF_SAMPLE_CALLCHAIN:
            found["nr"] = at
            at += 8
        found["ips_at"] = at
        trailer = dict.fromkeys(("t_pid", "t_time", "t_cpu"), -1)
        if self.sample_id_all:
            back = self.trailer_size
            for bit, part, fields in _SAMPLE_ID:
                if st & bit:
                    if fields:
                        trailer["t_" + fields[0]] = back
                    back -= struct.calcsize("<" + part)
        return found | trailer | {"min_trailer": self.trailer_size}

    def read_words(self) -> int | None:
        """u64s of a PERF_SAMPLE_READ value, or None when it depends on the group size."""
        if not self.sample_type & pea.PERF_SAMPLE_READ:
            return 0
        if self.read_format & pea.PERF_FORMAT_GROUP:
            return None
        return 1 + sum(
            1
            for bit in (
                pea.PERF_FORMAT_TOTAL_TIME_ENABLED,
                pea.PERF_FORMAT_TOTAL_TIME_RUNNING,
                pea.PERF_FORMAT_ID,
                pea.PERF_FORMAT_LOST,
            )
            if self.read_format & bit
        )

    def _sample_reader(self) -> SampleReader:
        st = self.sample_type
        fmt, names = "", []
        for bit, part, fields in _SAMPLE_PREFIX:
            if st & bit:
                fmt += part
                names.extend(fields)
        callchain = bool(st & pea.PERF_SAMPLE_CALLCHAIN)
        read = self.read_words()
        if read is None:
            return self._group_read_reader(fmt, names, callchain)
        fmt += "8x" * read
        if callchain:
            fmt += "Q"
            names.append("nr")
        unpack = struct.Struct("<" + fmt).unpack_from
        ips = 8 + struct.calcsize("<" + fmt)  # from the record's start
        if tuple(names) == _WANTED:  # stax record's own layout: nothing to reorder

            def sample(chunk: bytes, off: int) -> SampleFields:
                return (*unpack(chunk, off + 8), off + ips)

            return sample
        pick, defaults = _picker(names, _WANTED)

        def reordered(chunk: bytes, off: int) -> SampleFields:
            return (*pick(unpack(chunk, off + 8) + defaults), off + ips)

        return reordered

    def _group_read_reader(self, fmt: str, names: list[str], callchain: bool) -> SampleReader:
        """PERF_FORMAT_GROUP: ``{u64 nr; [time_enabled]; [time_running]; {value; [id]; [lost]}[nr]}``."""
        rf = self.read_format
        head = (
            1 + bool(rf & pea.PERF_FORMAT_TOTAL_TIME_ENABLED) + bool(rf & pea.PERF_FORMAT_TOTAL_TIME_RUNNING)
        )
        per_member = 8 * (1 + bool(rf & pea.PERF_FORMAT_ID) + bool(rf & pea.PERF_FORMAT_LOST))
        unpack = struct.Struct("<" + fmt + "Q").unpack_from
        read_at = 8 + struct.calcsize("<" + fmt) + 8 * head  # the members, from the record's start
        pick, defaults = _picker(names, _WANTED[:-1])
        u64 = _U64.unpack_from

        def sample(chunk: bytes, off: int) -> SampleFields:
            values = unpack(chunk, off + 8)
            at = off + read_at + values[-1] * per_member
            nr = 0
            if callchain:
                (nr,) = u64(chunk, at)
                at += 8
            return (*pick(values[:-1] + defaults), nr, at)

        return sample

    def _id_reader(self) -> tuple[IdReader, int]:
        if not self.sample_id_all:
            none = (-1, -1, 0, -1)
            return (lambda chunk, end: none), 0
        fmt, names = "", []
        for bit, part, fields in _SAMPLE_ID:
            if self.sample_type & bit:
                fmt += part
                names.extend(fields)
        size = struct.calcsize("<" + fmt)
        unpack = struct.Struct("<" + fmt).unpack_from
        if tuple(names) == ("pid", "tid", "time", "cpu"):
            return (lambda chunk, end: unpack(chunk, end - size)), size
        pick, defaults = _picker(names, ("pid", "tid", "time", "cpu"))
        return (lambda chunk, end: pick(unpack(chunk, end - size) + defaults)), size

    def _id_positions(self) -> tuple[int | None, int | None]:
        st = self.sample_type
        if st & pea.PERF_SAMPLE_IDENTIFIER:
            return 1, 1
        if not st & pea.PERF_SAMPLE_ID:
            return None, None
        before = sum(_words(part) for bit, part, _ in _SAMPLE_PREFIX[:5] if st & bit)
        after = sum(_words(part) for bit, part, _ in _SAMPLE_ID[2:] if st & bit)
        return 1 + before, after if self.sample_id_all else None


class EventLayouts:
    """The layouts of every event whose records a decoder reads, and how to tell them apart.

    Samples of different events are told apart by their id, which must sit at the same
    place in every layout (as perf requires of one perf.data: ``evlist__valid_sample_type``);
    ``by_id`` maps ids to layouts, ``default`` serves records without an id (or one
    event).  A non-sample record's trailer is read with its event's layout when the
    layouts' trailers differ.
    """

    def __init__(self, default: SampleLayout, by_id: Mapping[int, SampleLayout] | None = None) -> None:
        self.default = default
        self.by_id = dict(by_id or {})
        layouts = {default, *self.by_id.values()}
        positions = {layout.id_word for layout in layouts}
        if len(layouts) > 1 and (len(positions) != 1 or None in positions):
            raise ValueError("the events' samples carry their ids at different places")
        self.id_word: int = positions.pop() or 0
        """u64 index of a sample's event id from the record's start; 0: samples carry no id."""
        self.trailer_size = default.trailer_size
        """The default layout's trailer size (records of an unknown event)."""
        self.sample_id = self._trailer_reader(layouts)

    def compiled(self) -> dict[str, int] | None:
        """The compiled scan's layout when every event has the same one and the scan can read it
        (:meth:`SampleLayout.compiled`); else None: the Python decoder reads the records."""
        layouts = {self.default, *self.by_id.values()}
        return layouts.pop().compiled() if len(layouts) == 1 else None

    def of(self, event_id: int) -> SampleLayout:
        return self.by_id.get(event_id, self.default)

    def with_layout(self, event_id: int, layout: SampleLayout) -> EventLayouts:
        """These layouts plus ``event_id``'s own."""
        return EventLayouts(self.default, {**self.by_id, event_id: layout})

    def _trailer_reader(self, layouts: set[SampleLayout]) -> IdReader:
        if len({lay.trailer_key for lay in layouts}) == 1:
            return self.default.sample_id
        back = {lay.trailer_id_word for lay in layouts}
        if len(back) != 1 or None in back:
            raise ValueError("the events' records carry their ids at different places")
        word = back.pop()
        by_id = self.by_id
        default = self.default
        u64 = _U64.unpack_from

        def sample_id(chunk: bytes, end: int) -> tuple[int, int, int, int]:
            (event_id,) = u64(chunk, end - 8 * word)
            return by_id.get(event_id, default).sample_id(chunk, end)

        return sample_id


_ID_FIELDS = (
    pea.PERF_SAMPLE_TID
    | pea.PERF_SAMPLE_TIME
    | pea.PERF_SAMPLE_ID
    | pea.PERF_SAMPLE_STREAM_ID
    | pea.PERF_SAMPLE_CPU
    | pea.PERF_SAMPLE_IDENTIFIER
)
"""The sample_type bits that shape a sample_id trailer."""

LIVE = SampleLayout(pea.SAMPLE_TYPE)
"""``stax record``'s layout when a ring holds one event."""
LIVE_SHARED = SampleLayout(pea.SHARED_RING_SAMPLE_TYPE)
"""... and when events share a ring (every event has PERF_SAMPLE_IDENTIFIER)."""
LIVE_SHARED_NO_IP = SampleLayout(pea.SHARED_RING_SAMPLE_TYPE & ~pea.PERF_SAMPLE_IP)
"""An off-CPU event opened without PERF_SAMPLE_IP (staxd's grants without kernel stacks)."""
