"""The compiled fast path of RecordDecoder.decode (record_decoder.py).

fast_decode.c scans a chunk and writes one fixed-size entry per sample or
context-switch record (fast_decode.h); this module turns the entries into the same
objects the Python decoder makes, and hands every other record back to the Python
decoder at its own offset, so the two produce identical events.  The extension is
built on first use (fast_decode_build.py); without a compiler, Python headers or a
writable directory, or with ``STAX_PURE_PYTHON=1``, :func:`load` returns None and the
Python decoder does everything.
"""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING, Any

from stax.events import Event, Sample
from stax_backend_linux.decode.record_decoder import (
    _IPS_STRUCTS,
    KIND_NO_IP,
    PERF_RECORD_MISC_SWITCH_OUT,
    PERF_RECORD_MISC_SWITCH_OUT_PREEMPT,
    _ips,
)
from stax_backend_linux.dwarf_callgraph.stack_sample import StackSample
from stax_backend_linux.off_cpu.records import SwitchRecord, SwitchStack, WakingRecord

if TYPE_CHECKING:
    from stax_backend_linux.decode.record_decoder import RecordDecoder

PURE_PYTHON_ENV = "STAX_PURE_PYTHON"
ENTRY_WORDS = 11
# fast_decode.h: tag, time, pid, tid, cpu (-1: absent), period|misc, wakee|dump at, k/u at+count
ENTRY = struct.Struct("<QQqqqQq4Q")
BATCH = 4096  # entries per call into C

TAG_SAMPLE = 0
TAG_SWITCH_STACK = 1
TAG_WAKING = 2
TAG_SWITCH = 3
TAG_OTHER = 4

_loaded: FastScan | None | bool = False


class FastScan:
    """One loaded extension plus its reusable output buffer."""

    def __init__(self, module: Any) -> None:
        self.ffi = module.ffi
        self.lib = module.lib
        if self.lib.STAX_ENTRY_WORDS != ENTRY_WORDS:
            raise ImportError("fast_decode.h and fast_decoder.py disagree on the entry size")
        self._out = self.ffi.new("uint64_t[]", BATCH * ENTRY_WORDS)
        self._stop = self.ffi.new("size_t *")

    def decode(self, decoder: RecordDecoder, chunk: bytes) -> list[Event]:
        """Everything :meth:`RecordDecoder.decode` returns for ``chunk``, and the same counts."""
        ffi = self.ffi
        scan = self.lib.stax_decode_layout
        layout = ffi.new("stax_layout *", decoder.compiled_layout)
        out_words = self._out
        stop = self._stop
        kinds = decoder.kinds
        ids = ffi.new("uint64_t[]", list(kinds.keys()) or [0])
        no_ip = decoder.without_ip
        kind_of = ffi.new("int32_t[]", [kind | (KIND_NO_IP if event in no_ip else 0)
                                        for event, kind in kinds.items()] or [0])
        nids = len(kinds)
        waking_at = decoder.waking_pid_offset
        max_stack = decoder.max_stack
        dump = decoder.dump
        chains = _IPS_STRUCTS
        entries = ENTRY.iter_unpack
        out: list[Event] = []
        append = out.append
        source = ffi.from_buffer(chunk)
        length = len(chunk)
        samples = switch_records = switch_stacks = wakings = 0
        off = 0
        while True:
            n = scan(source, length, off, layout, ids, kind_of, nids, waking_at, out_words, BATCH, stop)
            if not n:
                break
            for tag, when, pid, tid, cpu, extra, wakee, k_at, k_n, u_at, u_n in entries(
                    ffi.buffer(out_words, n * ENTRY.size)):
                if tag == TAG_SWITCH:
                    out_ = bool(extra & PERF_RECORD_MISC_SWITCH_OUT)
                    append(SwitchRecord(when, pid, tid, cpu, out_,
                                        out_ and bool(extra & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT)))
                    switch_records += 1
                    continue
                if tag == TAG_OTHER:
                    out.extend(decoder._decode_range(chunk, when, when + pid))  # offset, size
                    continue
                kernel = (chains.get(k_n) or _ips(k_n)).unpack_from(chunk, k_at) if k_n else ()
                user = (chains.get(u_n) or _ips(u_n)).unpack_from(chunk, u_at) if u_n else ()
                if tag == TAG_SAMPLE:
                    if dump is None:
                        append(Sample(when, pid, tid, cpu, extra, kernel, user, k_n + u_n >= max_stack))
                    else:  # wakee: where the register/stack dump starts
                        regs, stack = dump.read(chunk, wakee)
                        append(StackSample(when, pid, tid, cpu, extra, kernel, user, regs, stack))
                    samples += 1
                elif tag == TAG_SWITCH_STACK:
                    if dump is None:
                        append(SwitchStack(when, pid, tid, cpu, kernel, user))
                    else:
                        append(SwitchStack(when, pid, tid, cpu, kernel, user, *dump.read(chunk, wakee)))
                    switch_stacks += 1
                else:
                    append(WakingRecord(when, cpu, pid, tid, wakee, kernel, user))
                    wakings += 1
            if n < BATCH:
                break
            off = stop[0]
        decoder.samples += samples
        decoder.switch_records += switch_records
        decoder.switch_stacks += switch_stacks
        decoder.wakings += wakings
        return out


def load() -> FastScan | None:
    """The compiled scan, built into the stax cache on first use; None where it cannot be."""
    global _loaded
    if os.environ.get(PURE_PYTHON_ENV, "") not in ("", "0"):
        return None
    if _loaded is False:
        _loaded = None
        try:
            from stax.cache_dirs import work_dir
            from stax_backend_linux.decode import fast_decode_build

            # code is loaded only from a directory of ours (else one private to this run)
            path = fast_decode_build.build(work_dir() / "fast_decode")
            _loaded = FastScan(fast_decode_build.load(path))
        except Exception:  # no compiler, headers or writable cache: the Python decoder serves
            _loaded = None
    return _loaded  # type: ignore[return-value]
