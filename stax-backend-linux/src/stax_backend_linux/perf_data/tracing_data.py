"""perf.data's tracing data: the format of every tracepoint the recording used.

``perf record -e sched:...`` copies each tracepoint's tracefs ``format`` file into the
HEADER_TRACING_DATA feature (perf's trace-event-read.c reads it back):

    "\\x17\\x08\\x44tracing"  version "0.6\\0"  u8 big_endian  u8 long_size  u32 page_size
    "header_page\\0" u64 size, data       "header_event\\0" u64 size, data
    u32 n, n x (u64 size, ftrace format)
    u32 systems, per system: name "\\0", u32 n, n x (u64 size, event format)
    kallsyms, printk formats, saved cmdlines (not read)

Each event format holds ``name:``, ``ID:`` (the attr's ``config``) and the
``field:...; offset:N; size:N; signed:N;`` lines stax_binfmt.tracefs parses for a
live tracefs, so the offsets are those of the kernel that recorded the file.
"""

from __future__ import annotations

import re
import struct

import attrs

from stax_binfmt.tracefs import TraceField, parse_format

MAGIC = b"\x17\x08\x44tracing"
_ID = re.compile(rb"^ID:\s*(\d+)", re.MULTILINE)
_NAME = re.compile(rb"^name:\s*(\S+)", re.MULTILINE)
U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")


@attrs.frozen(slots=True)
class Tracepoint:
    name: str
    """``system:event``."""
    fields: dict[str, TraceField]


def parse_tracing_data(raw: bytes) -> dict[int, Tracepoint]:
    """Tracepoint id -> its name and fields; ValueError when the data is damaged."""
    if not raw.startswith(MAGIC):
        raise ValueError("no tracing data magic")
    at = raw.index(b"\0", len(MAGIC)) + 1  # after the version string
    big_endian = raw[at]
    if big_endian:
        raise ValueError("big-endian tracing data")
    at += 2 + 4  # long size, page size
    for label in (b"header_page\0", b"header_event\0"):
        if raw[at : at + len(label)] != label:
            raise ValueError("tracing data header missing")
        at += len(label)
        (size,) = U64.unpack_from(raw, at)
        at += 8 + size
    (count,) = U32.unpack_from(raw, at)
    at += 4
    for _ in range(count):  # ftrace's own events
        (size,) = U64.unpack_from(raw, at)
        at += 8 + size
    found: dict[int, Tracepoint] = {}
    (systems,) = U32.unpack_from(raw, at)
    at += 4
    for _ in range(systems):
        end = raw.index(b"\0", at)
        system = raw[at:end].decode("utf-8", "replace")
        at = end + 1
        (count,) = U32.unpack_from(raw, at)
        at += 4
        for _ in range(count):
            (size,) = U64.unpack_from(raw, at)
            text = raw[at + 8 : at + 8 + size]
            at += 8 + size
            ident, name = _ID.search(text), _NAME.search(text)
            if ident is None or name is None:
                continue
            found[int(ident[1])] = Tracepoint(
                f"{system}:{name[1].decode('utf-8', 'replace')}",
                parse_format(text.decode("utf-8", "replace")),
            )
    return found
