"""Reading ``kd_buf`` records and ``kd_threadmap`` entries from bytes.

The same bytes arrive from ``sysctl(KERN_KDREADTR)`` on a Mac and from the events
chunk of a ``.ktrace`` file, so this is the one reader of both.  Only the 64-bit
layout exists here (every Mac stax supports is 64-bit; 32-bit traces are refused by
the file reader).  Layouts: :mod:`stax_backend_macos.kdebug_codes`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

from stax_backend_macos.kdebug_codes import KD_BUF_SIZE, KD_THREADMAP_SIZE

_KD_BUF = struct.Struct("<QQQQQQIIQ")
_THREADMAP = struct.Struct("<Qi20s")
assert _KD_BUF.size == KD_BUF_SIZE and _THREADMAP.size == KD_THREADMAP_SIZE


class KdRecord(NamedTuple):
    """One kdebug event: ``tid`` is arg5, the thread that was running when it was traced."""

    timestamp: int
    arg1: int
    arg2: int
    arg3: int
    arg4: int
    tid: int
    debugid: int
    cpu: int
    unused: int = 0


class ThreadMapEntry(NamedTuple):
    """A thread alive when tracing began: its id, its process and the process's name."""

    tid: int
    pid: int
    command: str


def records(data: bytes | memoryview) -> Iterator[KdRecord]:
    """Every whole record in ``data`` (a trailing partial record is not one)."""
    whole = len(data) - len(data) % KD_BUF_SIZE
    return map(KdRecord._make, _KD_BUF.iter_unpack(memoryview(data)[:whole]))


def thread_map(data: bytes | memoryview) -> list[ThreadMapEntry]:
    """The entries of a thread map; unused slots (thread id 0) are skipped."""
    whole = len(data) - len(data) % KD_THREADMAP_SIZE
    out = []
    for tid, pid, command in _THREADMAP.iter_unpack(memoryview(data)[:whole]):
        if tid:
            out.append(ThreadMapEntry(tid, pid, command.split(b"\0", 1)[0].decode("utf-8", "replace")))
    return out


def packed_string(*words: int) -> str:
    """A string kdebug packs 8 bytes per argument (little-endian), up to its first NUL."""
    raw = b"".join((w & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little") for w in words)
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
