"""jitdump decoding on byte buffers built here from the spec layout (perf jitdump-specification.txt).

:class:`DumpWriter` is also used by the source tests: it writes what a runtime would.
"""

from __future__ import annotations

import random
import struct
import time

import pytest

from stax_symbols.jit.jitdump_reader import (
    JIT_CODE_CLOSE,
    JIT_CODE_DEBUG_INFO,
    JIT_CODE_LOAD,
    JIT_CODE_MOVE,
    JIT_CODE_UNWINDING_INFO,
    JITDUMP_MAGIC,
    JitCodeLoad,
    JitCodeMove,
    JitDebugEntry,
    read_jitdump,
)


class DumpWriter:
    """Builds a jitdump: the §III header, then §IV records with §V-§IX payloads."""

    def __init__(self, pid: int = 4242, order: str = "<", version: int = 1, pad1: int = 0,
                 elf_mach: int = 62) -> None:
        self.order = order
        self.clock = 1_000
        self.index = 0
        # magic, version, total_size, elf_mach, pad1, pid, timestamp, flags
        self.data = bytearray(struct.pack(order + "IIIIIIQQ", JITDUMP_MAGIC, version, 40, elf_mach,
                                          pad1, pid, 999, 0))

    def record(self, rid: int, payload: bytes, pad_to_8: bool = False) -> int:
        """Append one record (§IV header: id, total_size, timestamp); return its offset."""
        total = 16 + len(payload)
        padding = (-total % 8) if pad_to_8 else 0
        self.clock += 10
        at = len(self.data)
        self.data += struct.pack(self.order + "IIQ", rid, total + padding, self.clock)
        self.data += payload + b"\0" * padding
        return at

    def load(self, addr: int, size: int, name: str, code: bytes | None = None,
             index: int | None = None, tid: int = 1) -> int:
        """JIT_CODE_LOAD (§V): pid, tid, vma, code_addr, code_size, code_index, name, code."""
        if index is None:
            self.index += 1
            index = self.index
        code = code if code is not None else bytes(range(256)) * (size // 256) + bytes(size % 256)
        payload = struct.pack(self.order + "IIQQQQ", 4242, tid, addr, addr, size, index)
        return self.record(JIT_CODE_LOAD, payload + name.encode() + b"\0" + code)

    def move(self, old: int, new: int, size: int, index: int) -> int:
        """JIT_CODE_MOVE (§VI): pid, tid, vma, old_code_addr, new_code_addr, code_size, code_index."""
        payload = struct.pack(self.order + "IIQQQQQ", 4242, 1, new, old, new, size, index)
        return self.record(JIT_CODE_MOVE, payload)

    def debug(self, addr: int, entries: list[tuple[int, int, int, bytes]], pad_to_8: bool = False) -> int:
        """JIT_CODE_DEBUG_INFO (§VII): code_addr, nr_entry, then (code_addr, line, discrim, name\\0)."""
        payload = struct.pack(self.order + "QQ", addr, len(entries))
        for address, line, discrim, name in entries:
            payload += struct.pack(self.order + "QII", address, line, discrim) + name + b"\0"
        return self.record(JIT_CODE_DEBUG_INFO, payload, pad_to_8)

    def unwinding(self, size: int = 24) -> int:
        """JIT_CODE_UNWINDING_INFO (§IX): unwind_data_size, eh_frame_hdr_size, mapped_size, data."""
        payload = struct.pack(self.order + "QQQ", size, 20, 0) + b"\x01" * size
        return self.record(JIT_CODE_UNWINDING_INFO, payload, pad_to_8=True)

    def close(self) -> int:
        """JIT_CODE_CLOSE (§VIII): header only."""
        return self.record(JIT_CODE_CLOSE, b"")

    def bytes(self) -> bytes:
        return bytes(self.data)


BASE = 0x7F00_0000_1000


def _sample_dump(order: str = "<") -> DumpWriter:
    w = DumpWriter(order=order)
    w.unwinding()
    w.debug(BASE, [(BASE, 10, 1, b"/app/a.js"), (BASE + 0x20, 11, 5, b"/app/a.js"),
                   (BASE + 0x40, 12, 0, b"/app/b.js")])
    w.load(BASE, 0x80, "hot_function", code=bytes(range(0x80)))
    w.load(BASE + 0x100, 0x40, "second")
    w.move(BASE + 0x100, BASE + 0x400, 0x40, 2)
    return w


@pytest.mark.parametrize("order", ["<", ">"])
def test_header_and_records_in_either_byte_order(order: str) -> None:
    data = _sample_dump(order).bytes()
    dump = read_jitdump(data, "jit-4242.dump")
    assert dump.problems == ()
    header = dump.header
    assert header is not None and header.little_endian is (order == "<")
    assert (header.version, header.total_size, header.elf_mach, header.pid, header.timestamp,
            header.flags) == (1, 40, 62, 4242, 999, 0)
    assert dump.records == 5 and not dump.closed
    first, second, move = dump.code
    assert isinstance(first, JitCodeLoad) and isinstance(second, JitCodeLoad)
    assert (first.pid, first.tid, first.vma, first.code_addr, first.code_size, first.code_index,
            first.name) == (4242, 1, BASE, BASE, 0x80, 1, "hot_function")
    assert data[first.code_file_offset:first.code_file_offset + 0x80] == bytes(range(0x80))
    assert first.debug == (JitDebugEntry(BASE, 10, 1, "/app/a.js"),
                           JitDebugEntry(BASE + 0x20, 11, 5, "/app/a.js"),
                           JitDebugEntry(BASE + 0x40, 12, 0, "/app/b.js"))
    assert second.debug == ()  # debug info describes only the load right after it
    assert move == JitCodeMove(move.timestamp, 4242, 1, BASE + 0x400, BASE + 0x100, BASE + 0x400,
                               0x40, 2)


def test_debug_info_for_another_address_is_not_attached() -> None:
    w = DumpWriter()
    w.debug(BASE + 0x999, [(BASE + 0x999, 3, 0, b"x.js")])
    w.load(BASE, 0x10, "f")
    w.load(BASE + 0x999, 0x10, "g")  # the debug info was for the load right after it, not this one
    loads = read_jitdump(w.bytes()).code
    assert [(c.name, c.debug) for c in loads] == [("f", ()), ("g", ())]


def test_close_ends_the_file_and_unknown_records_are_skipped() -> None:
    w = DumpWriter()
    w.record(77, b"future record type payload")
    w.load(BASE, 0x10, "before_close")
    w.close()
    w.load(BASE + 0x10, 0x10, "after_close")
    dump = read_jitdump(w.bytes())
    assert [c.name for c in dump.code] == ["before_close"]
    assert dump.closed and dump.problems == ()


def test_bad_magic_is_one_sentence_and_no_records() -> None:
    data = bytearray(_sample_dump().bytes())
    data[0:4] = b"ELF\x7f"
    dump = read_jitdump(bytes(data), "/x/jit-1.dump")
    assert dump.header is None and dump.code == ()
    (problem,) = dump.problems
    assert "/x/jit-1.dump is not a jitdump" in problem and problem.endswith(".")


@pytest.mark.parametrize("data, words", [
    (b"", "is empty"),
    (b"JiTD", "too short"),
])
def test_short_files(data: bytes, words: str) -> None:
    dump = read_jitdump(data, "j.dump")
    assert dump.header is None and words in dump.problems[0]


def test_unknown_version_and_bad_header_size() -> None:
    w = DumpWriter(version=9)
    assert "version 9" in read_jitdump(w.bytes()).problems[0]
    data = bytearray(DumpWriter().bytes())
    data[8:12] = struct.pack("<I", 12)  # header total_size smaller than the header
    assert "damaged header" in read_jitdump(bytes(data)).problems[0]


def test_truncated_dump_keeps_the_valid_prefix() -> None:
    w = DumpWriter()
    w.load(BASE, 0x10, "one")
    w.load(BASE + 0x10, 0x10, "two")
    cut_at = w.load(BASE + 0x20, 0x10, "three")
    data = w.bytes()[:cut_at + 30]  # inside the third record
    dump = read_jitdump(data, "jit-5.dump")
    assert [c.name for c in dump.code] == ["one", "two"]
    (problem,) = dump.problems
    assert f"jit-5.dump ends inside a record at byte {cut_at}" in problem
    assert "first 2 code loads" in problem


def test_absurd_sizes_are_reported_and_the_rest_is_read() -> None:
    w = DumpWriter()
    w.load(BASE, 0x10, "good_before")
    bad = w.load(BASE + 0x10, 0x10, "bad_size")
    w.debug(BASE + 0x20, [(BASE + 0x20, 1, 0, b"a.js")])
    debug_at = len(w.data) - (16 + 16 + 16 + 5)
    w.load(BASE + 0x20, 0x10, "good_after")
    data = bytearray(w.bytes())
    struct.pack_into("<Q", data, bad + 16 + 24, 1 << 40)  # code_size: a terabyte
    struct.pack_into("<Q", data, debug_at + 16 + 8, 1 << 60)  # nr_entry: absurd
    dump = read_jitdump(bytes(data), "j.dump")
    assert [c.name for c in dump.code] == ["good_before", "good_after"]
    assert dump.code[1].debug == ()
    assert len(dump.problems) == 2
    assert "1 damaged code records" in dump.problems[0]
    assert "1 debug-info records that cannot be read" in dump.problems[1]


def test_a_record_shorter_than_its_header_stops_reading() -> None:
    w = DumpWriter()
    w.load(BASE, 0x10, "kept")
    at = w.load(BASE + 0x10, 0x10, "lost")
    data = bytearray(w.bytes())
    struct.pack_into("<I", data, at + 4, 3)
    dump = read_jitdump(bytes(data), "j.dump")
    assert [c.name for c in dump.code] == ["kept"]
    assert f"damaged at byte {at}" in dump.problems[0]


def test_v8_debug_info_bias_and_damaged_names() -> None:
    """What node 20 writes: pad1 0xDEADBEEF, entry addresses + 0x40, names of garbage with NULs."""
    w = DumpWriter(pad1=0xDEADBEEF)
    garbage = b"IS\x03\0\0\0\0\0\xa2\xd1X\xec{\x9a"  # 14 bytes: as long as "/tmp/jt/fib.js"
    w.debug(BASE, [(BASE + 0x40 + 0, 1, 13, garbage), (BASE + 0x40 + 0x27, 1, 28, garbage),
                   (BASE + 0x40 + 0x46, 2, 7, garbage)], pad_to_8=True)
    w.load(BASE, 0x80, "JS:*fib /tmp/jt/fib.js:1:13")
    w.debug(BASE + 0x100, [(BASE + 0x140, 162, 3, b"node:internal/validators")], pad_to_8=True)
    w.load(BASE + 0x100, 0x40, "JS:^ node:internal/validators:161:40")
    dump = read_jitdump(w.bytes())
    assert dump.problems == ()
    fib, validators = dump.code
    assert [(e.address - BASE, e.line, e.discrim, e.file) for e in fib.debug] == [
        (0, 1, 13, None), (0x27, 1, 28, None), (0x46, 2, 7, None)]
    assert validators.debug == (JitDebugEntry(BASE + 0x100, 162, 3, "node:internal/validators"),)


def test_no_bias_without_the_v8_marker() -> None:
    w = DumpWriter()
    w.debug(BASE, [(BASE + 0x40, 7, 0, b"a.c")])
    w.load(BASE, 0x80, "f")
    assert read_jitdump(w.bytes()).code[0].debug[0].address == BASE + 0x40


def test_never_raises_on_any_prefix_or_damage() -> None:
    """Every truncation, and thousands of random byte changes, give a result, never an exception."""
    data = _sample_dump().bytes()
    for end in range(len(data) + 1):
        dump = read_jitdump(data[:end])
        assert len(dump.code) <= 3
    rng = random.Random(5)
    for _ in range(3000):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        read_jitdump(bytes(damaged))


def test_speed_records_per_second() -> None:
    w = DumpWriter()
    for k in range(10_000):
        address = BASE + k * 0x100
        w.unwinding()
        w.debug(address, [(address + 8 * j, j + 1, 0, b"/srv/app/lib/module.js") for j in range(6)])
        w.load(address, 0xC0, f"JS:*handler_{k} /srv/app/lib/module.js:{k}:3")
    data = w.bytes()
    start = time.perf_counter()
    dump = read_jitdump(data)
    elapsed = time.perf_counter() - start
    assert dump.records == 30_000 and len(dump.code) == 10_000
    assert dump.records / elapsed > 30_000, f"{dump.records / elapsed:.0f} records/s"
