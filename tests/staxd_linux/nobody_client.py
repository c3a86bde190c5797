"""Run as an unprivileged user (the tests start it with setpriv): talk to staxd, use what it grants.

``python nobody_client.py SCENARIO SOCKET [ARG]`` prints one JSON object.  It lives
in its own file because it must run in a separate process with other credentials.

Scenarios:
  sample       fork a child that spends its time in the kernel (reading /dev/zero); get
               cpu-clock sampling fds with kernel stacks for it from staxd, map, enable,
               decode; then try the same in-process (kernel: EACCES expected; user-only:
               no kernel frames).
  waking       fork a child woken through a pipe every ~2 ms; get sched_waking fds filtered on it,
               count the wakeups of the child in the raw data; then try to open the
               tracepoint (id ARG) in-process.
  hello        say hello; report the reply or the refusal sentence.
  request      send ARG (a JSON request) and report the reply or refusal sentence.
  raw          send ARG bytes as they are (malformed input) and report the reply.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable

from forked_child import fork_when_ready  # the tests put this directory on PYTHONPATH

from stax.errors import CaptureError
from stax_backend_linux.capture.ring_buffer import RingBuffer
from stax_backend_linux.decode.record_decoder import PERF_RECORD_SAMPLE, RecordDecoder
from stax_backend_linux.staxd_client.client import StaxdClient
from stax_binfmt import perf_event_attr as pea
from stax_binfmt.perf_event_ffi import PerfEventError, disable, enable, perf_event_open
from stax_binfmt.perf_event_sets import sched_waking
from stax_binfmt.procfs import online_cpus
from stax_binfmt.staxd_protocol import OpenRequest

RING_PAGES = 8


def _child(body: str) -> int:
    """A forked workload, returned once it runs its loop: "kernel" copies from /dev/zero, "sleep"
    blocks on a pipe a writer process feeds every ~2 ms."""

    def run(ready: Callable[[], None]) -> None:
        if body == "kernel":
            with open("/dev/zero", "rb", buffering=0) as zero:
                ready()
                while True:
                    zero.read(1 << 16)  # the copy to user space runs in the kernel
        else:
            # A writer process wakes us through a pipe every ~2 ms: a sched_waking of this
            # tid each time, from a running waker (timer wakeups of an idle CPU are often
            # not traced on this kernel).  The writer dies on EPIPE once we are gone.
            read_end, write_end = os.pipe()
            if os.fork() == 0:
                try:
                    os.close(read_end)
                    while True:
                        os.write(write_end, b"x")
                        time.sleep(0.002)  # the workload's pace, not a wait for readiness
                finally:
                    os._exit(0)
            os.close(write_end)
            ready()
            while os.read(read_end, 1):
                pass

    return fork_when_ready(run)


def _drain(fds: list[int], seconds: float, rings: list[RingBuffer] | None = None) -> bytes:
    """Enable ``fds``, read their rings for ``seconds``, disable.  ``rings``: mapped by the caller (who
    closes them); by default one ring of RING_PAGES per fd."""
    own = rings is None
    rings = [RingBuffer(fd, RING_PAGES) for fd in fds] if rings is None else rings
    chunks: list[bytes] = []
    try:
        for fd in fds:
            enable(fd)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.05)
            chunks.extend(r.read() for r in rings)
        for fd in fds:
            disable(fd)
        chunks.extend(r.read() for r in rings)
    finally:
        for r in rings if own else ():
            r.close()
    return b"".join(c for c in chunks)


def _frames(data: bytes) -> dict[str, int]:
    samples = [e for e in RecordDecoder().decode(data) if type(e).__name__ == "Sample"]
    return {"samples": len(samples), "with_kernel_frames": sum(1 for s in samples if s.kernel_ips),
            "with_user_frames": sum(1 for s in samples if s.user_ips)}


def scenario_sample(socket_path: str) -> dict[str, object]:
    child = _child("kernel")
    out: dict[str, object] = {"child": child}
    try:
        with StaxdClient(socket_path) as client:
            granted = client.open_events(OpenRequest(kind="sampling", pids=(child,), kernel_stacks=True,
                                                     frequency=499))
        out["granted"] = [d.to_json() for _, d in granted]
        fds = [fd for fd, _ in granted]
        out["staxd"] = _frames(_drain(fds, 0.6))
        for fd in fds:
            os.close(fd)
        # In-process, the same attr with kernel mode: paranoid 2 says no.
        try:
            fd = perf_event_open(pea.sampling_attr(499, kernel=True, enable_on_exec=False, inherit=True,
                                                   wakeup_bytes=0), child, 0)
            os.close(fd)
            out["in_process_kernel_errno"] = 0
        except PerfEventError as exc:
            out["in_process_kernel_errno"] = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        # User-only in-process works, and carries no kernel frames.
        fds = []
        for cpu in online_cpus():
            attr = pea.sampling_attr(499, kernel=False, enable_on_exec=False, inherit=True, wakeup_bytes=0)
            attr.flags |= pea.flag_word(["disabled"])
            fds.append(perf_event_open(attr, child, cpu))
        out["in_process_user_only"] = _frames(_drain(fds, 0.6))
        for fd in fds:
            os.close(fd)
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    return out


def _waking_wakees(data: bytes, description: dict[str, object]) -> list[int]:
    """The wakee pids of PERF_RECORD_SAMPLEs laid out as sample_type
    [IDENTIFIER]|IP|TID|TIME|CPU|PERIOD|CALLCHAIN|RAW (perf_event.h field order)."""
    offset, size, _signed = description["raw_fields"]["pid"]  # type: ignore[index]
    assert size == 4
    sample_type = int(description["sample_type"])  # type: ignore[call-overload]
    expected = pea.SAMPLE_TYPE | pea.PERF_SAMPLE_RAW | (sample_type & pea.PERF_SAMPLE_IDENTIFIER)
    assert sample_type == expected, hex(sample_type)
    lead = 8 if sample_type & pea.PERF_SAMPLE_IDENTIFIER else 0
    wakees = []
    off = 0
    while off + 8 <= len(data):
        rtype, _misc, rsize = struct.unpack_from("<IHH", data, off)
        if rsize < 8:
            break
        if rtype == PERF_RECORD_SAMPLE:
            body = off + 8 + lead + 8 + 8 + 8 + 8 + 8  # [id], ip, pid/tid, time, cpu/res, period
            (nr,) = struct.unpack_from("<Q", data, body)
            raw = body + 8 + 8 * nr
            (raw_size,) = struct.unpack_from("<I", data, raw)
            (wakee,) = struct.unpack_from("<i", data, raw + 4 + offset)
            assert raw_size >= offset + 4
            wakees.append(wakee)
        off += rsize
    return wakees


def scenario_waking(socket_path: str, tracepoint_id: str) -> dict[str, object]:
    child = _child("sleep")
    out: dict[str, object] = {"child": child}
    try:
        with StaxdClient(socket_path) as client:
            granted = client.open_events(OpenRequest(kind="sched_waking", pids=(child,)))
        out["granted"] = [d.to_json() for _, d in granted]
        fds = [fd for fd, _ in granted]
        wakees = _waking_wakees(_drain(fds, 1.0), out["granted"][0])  # type: ignore[index]
        for fd in fds:
            os.close(fd)
        out["wakeups"] = len(wakees)
        out["wakees"] = sorted(set(wakees))
        try:
            attr = sched_waking(int(tracepoint_id), kernel=False, user_stacks=True, start="disabled",
                                wakeup_bytes=0)
            fd = perf_event_open(attr, -1, 0)
            os.close(fd)
            out["in_process_errno"] = 0
        except PerfEventError as exc:
            out["in_process_errno"] = errno.errorcode.get(exc.errno or 0, str(exc.errno))
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    return out


def scenario_request(socket_path: str, request: str) -> dict[str, object]:
    fields = json.loads(request)
    try:
        with StaxdClient(socket_path) as client:
            granted = client.open_events(OpenRequest(**fields))
    except CaptureError as exc:
        return {"ok": False, "error": str(exc), "type": type(exc).__name__}
    for fd, _ in granted:
        os.close(fd)
    return {"ok": True, "fds": len(granted)}


def scenario_hello(socket_path: str) -> dict[str, object]:
    try:
        with StaxdClient(socket_path) as client:
            return {"ok": True, "reply": client.hello()}
    except CaptureError as exc:
        return {"ok": False, "error": str(exc), "type": type(exc).__name__}


def scenario_raw(socket_path: str, payload: str) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
        sock.settimeout(5)
        sock.connect(socket_path)
        sock.send(payload.encode())
        return json.loads(sock.recv(65536))


def main() -> None:
    scenario, socket_path, *rest = sys.argv[1:]
    handlers = {"sample": scenario_sample, "waking": scenario_waking, "request": scenario_request,
                "raw": scenario_raw, "hello": scenario_hello}
    print(json.dumps(handlers[scenario](socket_path, *rest)))


if __name__ == "__main__":
    main()
