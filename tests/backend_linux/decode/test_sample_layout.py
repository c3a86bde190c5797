"""Sample layouts from sample_type / read_format / sample_id_all, on records built byte by byte.

perf_event.h's field order decides every offset; these records are laid out by hand
from it, so a wrong offset in sample_layout.py reads a wrong value here.
"""

from __future__ import annotations

import struct

from stax_backend_linux.decode.record_decoder import PERF_CONTEXT_USER, RecordDecoder
from stax_backend_linux.decode.sample_layout import LIVE, NO_IP, EventLayouts, SampleLayout
from stax_binfmt import perf_event_attr as pea

IP, TID, TIME, ID, CPU, PERIOD, CALLCHAIN, READ, RAW, IDENT, ADDR, STREAM = (
    pea.PERF_SAMPLE_IP,
    pea.PERF_SAMPLE_TID,
    pea.PERF_SAMPLE_TIME,
    pea.PERF_SAMPLE_ID,
    pea.PERF_SAMPLE_CPU,
    pea.PERF_SAMPLE_PERIOD,
    pea.PERF_SAMPLE_CALLCHAIN,
    pea.PERF_SAMPLE_READ,
    pea.PERF_SAMPLE_RAW,
    pea.PERF_SAMPLE_IDENTIFIER,
    pea.PERF_SAMPLE_ADDR,
    pea.PERF_SAMPLE_STREAM_ID,
)


def record(rtype: int, body: bytes, misc: int = 0) -> bytes:
    return struct.pack("<IHH", rtype, misc, 8 + len(body)) + body


def test_perf_record_default_layout_has_no_cpu() -> None:
    """perf record -g: IP|TID|TIME|CALLCHAIN|PERIOD (period before the callchain, no cpu)."""
    layout = SampleLayout(IP | TID | TIME | CALLCHAIN | PERIOD)
    body = struct.pack("<QIIQQQ3Q", 0x401000, 7, 8, 5000, 250000, 3, PERF_CONTEXT_USER, 0x401000, 0x401100)
    chunk = record(9, body)
    assert layout.sample(chunk, 0) == (0x401000, 7, 8, 5000, -1, 250000, 3, 8 + 40)
    assert layout.id_word is None and layout.trailer_size == 16


def test_id_group_read_and_addr_shift_every_field() -> None:
    st = IP | TID | TIME | ADDR | ID | STREAM | CPU | PERIOD | READ | CALLCHAIN
    rf = pea.PERF_FORMAT_GROUP | pea.PERF_FORMAT_ID | pea.PERF_FORMAT_TOTAL_TIME_ENABLED
    layout = SampleLayout(st, rf)
    read = struct.pack("<QQ", 2, 111) + struct.pack("<QQ", 10, 1001) + struct.pack("<QQ", 20, 1002)
    body = (
        struct.pack("<QIIQQQQIIQ", 0xAA, 1, 2, 3, 0xADD, 42, 43, 1, 0, 99)
        + read
        + struct.pack("<QQ", 1, 0xBB)
    )
    at = layout.sample(record(9, body), 0)
    assert at[:7] == (0xAA, 1, 2, 3, 1, 99, 1)
    assert at[7] == 8 + 64 + len(read) + 8
    assert layout.id_word == 1 + 4  # after ip, tid, time, addr
    # trailer: TID, TIME, ID, STREAM_ID, CPU -> the id is 3 u64s from the end
    assert layout.trailer_id_word == 3 and layout.trailer_size == 40


def test_missing_ip_reads_as_no_frame() -> None:
    layout = SampleLayout(IDENT | TID | TIME | CPU | PERIOD | CALLCHAIN)
    body = struct.pack("<QIIQIIQQ", 5, 1, 2, 3, 4, 0, 6, 0)
    assert layout.sample(record(9, body), 0)[:7] == (NO_IP, 1, 2, 3, 4, 6, 0)


def test_records_of_two_events_read_with_their_own_layouts() -> None:
    """Two attrs with PERF_SAMPLE_ID (as perf writes several events): samples and side-band
    records are each read with their event's layout, told apart by the id."""
    cpu_clock = SampleLayout(IP | TID | TIME | ID | CPU | PERIOD | CALLCHAIN)
    switch = SampleLayout(IP | TID | TIME | ID | CPU | PERIOD | CALLCHAIN | RAW)
    layouts = EventLayouts(cpu_clock, {11: cpu_clock, 12: switch})
    decoder = RecordDecoder(layouts=layouts)
    sample = record(
        9, struct.pack("<QIIQQIIQQ2Q", 0x400, 3, 4, 1000, 11, 1, 0, 250, 2, PERF_CONTEXT_USER, 0x400)
    )
    comm = record(3, struct.pack("<II", 3, 4) + b"worker\0\0" + struct.pack("<IIQQII", 3, 4, 900, 11, 1, 0))
    events = decoder.decode_python(comm + sample)
    assert [type(e).__name__ for e in events] == ["ThreadName", "Sample"]
    assert events[0].time == 900 and events[0].name == "worker"
    assert (events[1].time, events[1].cpu, events[1].weight, events[1].user_ips) == (1000, 1, 250, (0x400,))


def test_live_layout_keeps_the_fixed_struct() -> None:
    assert LIVE == SampleLayout(pea.SAMPLE_TYPE, pea.PERF_FORMAT_ID)  # read_format unused without READ
    assert LIVE.trailer_size == 24 and LIVE.id_word is None
