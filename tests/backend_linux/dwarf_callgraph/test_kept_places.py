"""Hybrid mode on the compiled stream: the scan shares one raw stack among a kept place's copies.

Once the unwinding stage keeps the kernel's walk at (pid, leaf, caller), the scan stops
keeping each stack copy there (most differ) and gives them one raw stack per stack and
copy size (``DumpedRawStacks.kept``).  A mapping change of any process makes the scan
forget its places, and a place decided before a change the scan has read is refused until
the unwinder has applied it too (docs/unwinding.md, dwarf_callgraph/mapping_changes.py).
"""

from __future__ import annotations

import random
import struct

import pytest

from stax.events import ImageLoad
from stax_backend_linux.decode import compiled_stream, fast_decoder
from tests.backend_linux import perf_record_bytes as rb
from tests.backend_linux.decode.test_compiled_stream import HYBRID_REGS, KINDS, SAMPLING, _decoder, _unwinding

pytestmark = pytest.mark.skipif(fast_decoder.load() is None,
                                reason="no compiled decoder (no compiler, or STAX_PURE_PYTHON=1)")

LEAF, CALLER, PID = 0x401234, 0x401500, 7


class Copies:
    """Samples at one place (pid 7, LEAF called from CALLER), each with a stack copy of its own."""

    def __init__(self) -> None:
        decoder = _decoder(KINDS, 24, 127)
        _unwinding(decoder, hybrid=True)
        stream = compiled_stream.for_decoder(decoder, hybrid=True)
        assert stream is not None
        self.stream = stream
        self.time = 1_000_000
        self.rng = random.Random(3)

    def scan(self, count: int) -> None:
        records = []
        for _ in range(count):
            self.time += 1000
            chain = [rb.CONTEXT_USER, LEAF, CALLER]
            sample = rb.ident_sample(SAMPLING, LEAF, PID, PID, self.time, 0, 1000, chain)
            rtype, misc, _size = struct.unpack_from("<IHH", sample)
            regs = struct.pack(f"<{HYBRID_REGS}Q", LEAF, 0x7FFC0000, 0x7FFC0040, *[0] * (HYBRID_REGS - 3))
            copy = self.rng.randbytes(64)  # a loop's locals: every copy differs
            tail = struct.pack("<Q", 2) + regs + struct.pack("<Q", 64) + copy + struct.pack("<Q", 64)
            records.append(rb._record(rtype, misc, sample[8:] + tail))
        self.stream.round([b"".join(records)])

    def keep(self, changes: int) -> int:
        s = self.stream
        return int(s.lib.stax_stream_keep_place(s._s, PID, LEAF, CALLER, changes))

    @property
    def crossed(self) -> int:
        """Copies read into Python (one raw stack each)."""
        return len(self.stream.stacks.dumps)


def test_a_kept_place_shares_one_raw_stack_among_its_copies() -> None:
    at = Copies()
    at.scan(3)
    assert at.crossed == 3
    assert at.keep(0) == 1
    at.scan(5)
    assert at.crossed == 3
    assert list(at.stream.stacks.kept.values()) == [64]  # one raw stack, with the copies' size


def test_a_mapping_change_forgets_the_place_and_refuses_older_decisions() -> None:
    at = Copies()
    at.scan(2)
    assert at.keep(0) == 1
    at.stream.add([ImageLoad(at.time + 1, PID, 0x7F0000000000, 0x7F0000100000, 0, "/lib/new.so")])
    at.scan(2)
    assert at.crossed == 4  # forgotten: each copy again
    assert at.keep(0) == 0  # decided before the change the scan read: refused
    at.scan(1)
    assert at.crossed == 5
    assert at.keep(1) == 1  # the unwinder has applied it too
    at.scan(3)
    assert at.crossed == 5
