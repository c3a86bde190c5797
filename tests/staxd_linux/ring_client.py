"""Run as uid 65534 (the tests start it with setpriv): use a staxd grant the way a member could, and
report what reached the rings.

``python ring_client.py SCENARIO SOCKET [ARG...]`` prints one JSON object.

Scenarios:
  rate FREQUENCY PERIOD   fork a child busy-looping on CPU 0; get a FREQUENCY Hz sampling grant for
                          it, call PERF_EVENT_IOC_PERIOD with PERIOD on every granted fd (``none``:
                          leave them as granted), sample for 1 s and count the PERF_RECORD_SAMPLEs
                          with the backend's ring reader and decoder.
  addresses               ask staxd for the event sets exactly as ``stax record`` does (the backend's
                          EventOpener: sampling, context switches, sched_waking) for a child woken
                          through a pipe (nobody_client.py's), and report every instruction pointer
                          and call-chain entry found in the raw ring data.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import struct
import sys
import time
from collections.abc import Callable

from forked_child import fork_when_ready  # the tests put this directory on PYTHONPATH
from nobody_client import _child, _drain

from stax.events import Sample
from stax_backend_linux.capture.event_opener import EventOpener, OffCpuStaxd, StaxdTarget
from stax_backend_linux.capture.ring_buffer import RingBuffer
from stax_backend_linux.capture.targets import PerCpuEvents
from stax_backend_linux.decode.record_decoder import PERF_CONTEXT_MAX, PERF_RECORD_SAMPLE, RecordDecoder
from stax_backend_linux.staxd_client.client import StaxdClient
from stax_binfmt import perf_event_attr as pea
from stax_binfmt.perf_event_ffi import set_output
from stax_binfmt.procfs import online_cpus
from stax_binfmt.staxd_protocol import OpenRequest

PERF_EVENT_IOC_PERIOD = 0x40082404  # _IOW('$', 4, __u64), include/uapi/linux/perf_event.h
RING_PAGES = 64
KERNEL_SPACE = 0xFFFF800000000000  # x86-64 and arm64 (48-bit VA): the lowest kernel address


def _busy_child(cpu: int) -> int:
    """A forked spinner on ``cpu``, returned once it is pinned there."""

    def spin(ready: Callable[[], None]) -> None:
        os.sched_setaffinity(0, {cpu})
        ready()
        while True:
            pass

    return fork_when_ready(spin)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (proc(5), /proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scenario_rate(socket_path: str, frequency: str, period: str) -> dict[str, object]:
    child = _busy_child(0)
    out: dict[str, object] = {"child": child}
    try:
        with StaxdClient(socket_path) as client:
            hello = client.hello()
            granted = client.open_events(OpenRequest(kind="sampling", pids=(child,), frequency=int(frequency),
                                                     kernel_stacks=False))
        out["rate_limit"] = hello.get("rate_limit")
        fds = [fd for fd, _ in granted]
        if period != "none":
            for fd in fds:
                fcntl.ioctl(fd, PERF_EVENT_IOC_PERIOD, struct.pack("<Q", int(period)))
        rings = [RingBuffer(fd, RING_PAGES) for fd in fds]  # one thread: one fd per CPU
        try:
            started, cpu_before = time.monotonic(), _cpu_seconds(child)
            data = _drain(fds, 1.0, rings)
            out["seconds"] = time.monotonic() - started
            out["cpu_seconds"] = _cpu_seconds(child) - cpu_before
        finally:
            for ring in rings:
                ring.close()
        decoder = RecordDecoder()
        events = decoder.decode(data)
        out["samples"] = sum(1 for e in events if isinstance(e, Sample))
        out["throttled"] = decoder.throttled
        for fd in fds:
            os.close(fd)
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    return out


def _addresses(data: bytes, sample_types: dict[int, int]) -> tuple[dict[str, int], list[int]]:
    """Per field, how many addresses the SAMPLEs carry, and those at or above KERNEL_SPACE.

    Every event of the ring has PERF_SAMPLE_IDENTIFIER, so a sample's first u64 says which event
    (and so which sample_type, from staxd's fd description) wrote it.  The fields before the call
    chain follow enum perf_event_sample_format's order.
    """
    counts = {"ips": 0, "callchain_entries": 0, "samples": 0}
    kernel: list[int] = []
    off = 0
    while off + 8 <= len(data):
        rtype, _misc, size = struct.unpack_from("<IHH", data, off)
        if size < 8:
            break
        if rtype == PERF_RECORD_SAMPLE:
            (ident,) = struct.unpack_from("<Q", data, off + 8)
            sample_type = sample_types[ident]
            at = off + 16
            counts["samples"] += 1
            if sample_type & pea.PERF_SAMPLE_IP:
                (ip,) = struct.unpack_from("<Q", data, at)
                counts["ips"] += 1
                if ip >= KERNEL_SPACE:
                    kernel.append(ip)
                at += 8
            for bit in (pea.PERF_SAMPLE_TID, pea.PERF_SAMPLE_TIME, pea.PERF_SAMPLE_ADDR, pea.PERF_SAMPLE_ID,
                        1 << 9, pea.PERF_SAMPLE_CPU, pea.PERF_SAMPLE_PERIOD):  # 1 << 9: STREAM_ID
                if sample_type & bit:
                    at += 8
            assert not sample_type & pea.PERF_SAMPLE_READ
            if sample_type & pea.PERF_SAMPLE_CALLCHAIN:
                (nr,) = struct.unpack_from("<Q", data, at)
                for entry in struct.unpack_from(f"<{nr}Q", data, at + 8):
                    if entry >= PERF_CONTEXT_MAX:
                        continue  # a PERF_CONTEXT_* marker
                    counts["callchain_entries"] += 1
                    if entry >= KERNEL_SPACE:
                        kernel.append(entry)
        off += size
    return counts, kernel


def _rings(events: list[PerCpuEvents]) -> tuple[list[RingBuffer], list[int]]:
    """One ring per CPU (the sampler's fd), every other fd of that CPU redirected into it."""
    sampler = events[0]
    rings = []
    for index, leader in enumerate(sampler.leaders):
        rings.append(RingBuffer(leader, RING_PAGES))
        for other in [*sampler.followers[index]] + [fd for e in events[1:]
                                                    for fd in [e.leaders[index], *e.followers[index]]]:
            set_output(other, leader)
    return rings, [fd for e in events for fd in e.all_fds()]


def scenario_addresses(socket_path: str) -> dict[str, object]:
    child = _child("sleep")  # woken through a pipe every ~2 ms: switches, wakeups, kernel time
    out: dict[str, object] = {"child": child}
    opener = EventOpener(online_cpus(), paranoid=2, socket_path=socket_path)
    try:
        sample_types = _record_descriptions(opener)
        target = StaxdTarget(pids=(child,))
        sampling = opener.sampling(target, frequency=999, identifier=True, wakeup_bytes=0, kernel=True)
        if sampling is None:  # kernel stacks refused: stax record samples user mode (staxd's grant, here)
            sampling = opener.sampling(target, frequency=999, identifier=True, wakeup_bytes=0, kernel=False)
        off_cpu = OffCpuStaxd(opener, target, 0)
        switches = off_cpu.switch_with_stacks()
        waking = off_cpu.sched_waking()
        out["granted"] = {"sampling": sampling is not None, "context_switch": switches is not None,
                          "sched_waking": waking is not None}
        out["failure"] = str(opener.failure) if opener.failure else None
        events = [e for e in (sampling, switches, waking[0] if waking else None) if e is not None]
        if not events:
            return out
        rings, fds = _rings(events)
        try:
            data = _drain(fds, 1.0, rings)
        finally:
            for ring in rings:
                ring.close()
        counts, kernel = _addresses(data, sample_types)
        out.update(counts)
        out["kernel_addresses"] = len(kernel)
        out["first_kernel_addresses"] = [hex(a) for a in kernel[:5]]
        for e in events:
            e.close()
    finally:
        opener.close()
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    return out


def _record_descriptions(opener: EventOpener) -> dict[int, int]:
    """event id -> sample_type, filled in as staxd describes each fd it grants to ``opener``."""
    described: dict[int, int] = {}
    open_events = opener._client.open_events

    def recording(request: OpenRequest) -> list:
        granted = open_events(request)
        described.update((d.event_id, d.sample_type) for _, d in granted)
        return granted

    opener._client.open_events = recording  # type: ignore[method-assign]
    return described


def main() -> None:
    scenario, socket_path, *rest = sys.argv[1:]
    handlers = {"rate": scenario_rate, "addresses": scenario_addresses}
    print(json.dumps(handlers[scenario](socket_path, *rest)))


if __name__ == "__main__":
    main()
