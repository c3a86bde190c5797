"""Run as uid 65534 (the tests start it with setpriv): try to get staxd's events onto a process
that becomes set-user-id root, and report whether anything of that process reached us.

``python attack_client.py SCENARIO SOCKET SPINNER SECRET [ARGS]`` prints one JSON object.
SPINNER is workloads/secret_spinner.c built set-user-id root (non-PIE); SECRET a file only
root may read.  What would be a leak: a sample whose IP lies in SPINNER's code, or the
secret's bytes in a DWARF user-stack copy.

Scenarios:
  race N       N times: fork a child, ask staxd for DWARF sampling fds on it, and make the
               child exec SPINNER while the daemon is between its ownership check and
               perf_event_open (the child has many threads, so the daemon's check and open
               take a while; the exec is fired after a delay swept across that time).
               Every grant is enabled and read while SPINNER runs.
  on_exec      `stax record`'s way: a child held before exec, events asked for with
               start=on_exec, then the child execs SPINNER; read what the grant delivers.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable

from elftools.elf.elffile import ELFFile
from forked_child import fork_when_ready
from nobody_client import _drain

from stax.errors import CaptureError
from stax_backend_linux.decode.record_decoder import PERF_RECORD_SAMPLE
from stax_backend_linux.staxd_client.client import StaxdClient
from stax_binfmt.staxd_protocol import OpenRequest

CHILD_THREADS = 120
"""Threads of the racing child: the daemon reads each one's credentials and opens one event per
thread and CPU, which stretches the time between its check and its last perf_event_open."""
SPIN_MS = 400


def code_range(path: str) -> tuple[int, int]:
    """The [start, end) of SPINNER's executable segment (a non-PIE binary: fixed addresses)."""
    with open(path, "rb") as f:
        for segment in ELFFile(f).iter_segments():
            if segment["p_type"] == "PT_LOAD" and segment["p_flags"] & 1:
                return segment["p_vaddr"], segment["p_vaddr"] + segment["p_memsz"]
    raise SystemExit(f"{path} has no executable segment")


def leaked(data: bytes, code: tuple[int, int], secret: bytes, pid: int) -> dict[str, int]:
    """Samples of ``pid`` with an IP in SPINNER's code, and copies of the secret, in ring ``data``."""
    samples = 0
    off = 0
    while off + 8 <= len(data):
        rtype, _misc, size = struct.unpack_from("<IHH", data, off)
        if size < 8:
            break
        if rtype == PERF_RECORD_SAMPLE and off + 24 <= len(data):
            ip, sample_pid = struct.unpack_from("<Qi", data, off + 8)  # sample_type starts IP|TID
            if sample_pid == pid and code[0] <= ip < code[1]:
                samples += 1
        off += size
    return {"spinner_samples": samples, "secret_copies": data.count(secret)}


def _racing_child(spinner: str, secret_path: str, go_r: int, delay: float) -> int:
    """A child with CHILD_THREADS parked threads, returned once they run; on "go" it execs ``spinner``
    ``delay`` seconds later."""

    def race(ready: Callable[[], None]) -> None:
        parked = threading.Event()
        for _ in range(CHILD_THREADS):
            threading.Thread(target=parked.wait, daemon=True).start()
        ready()
        os.read(go_r, 1)
        deadline = time.perf_counter() + delay
        while time.perf_counter() < deadline:
            pass  # a busy wait: a sleep would add a scheduler tick of jitter
        os.execv(spinner, [spinner, secret_path, str(SPIN_MS)])

    return fork_when_ready(race)


def _read_grant(granted: list, seconds: float) -> bytes:
    fds = [fd for fd, _ in granted]
    try:
        return _drain(fds, seconds)
    finally:
        for fd in fds:
            os.close(fd)


def scenario_race(socket_path: str, spinner: str, secret_path: str, secret: bytes,
                  attempts: str, stop_at_leak: str = "yes") -> dict[str, object]:
    code = code_range(spinner)
    out: dict[str, object] = {"attempts": 0, "granted": 0, "leaks": 0, "spinner_samples": 0,
                              "secret_copies": 0, "refusals": {}, "outcomes": ""}
    refusals: dict[str, int] = {}
    for attempt in range(int(attempts)):
        delay = (attempt % 16) * 0.002
        go_r, go_w = os.pipe()
        child = _racing_child(spinner, secret_path, go_r, delay)
        os.close(go_r)
        try:
            with StaxdClient(socket_path) as client:
                os.write(go_w, b"g")
                try:
                    request = OpenRequest(kind="sampling", pids=(child,), kernel_stacks=False, frequency=997,
                                          call_graph="dwarf")
                    granted = client.open_events(request)
                except CaptureError as exc:
                    sentence = str(exc).split(": ", 1)[-1].replace(str(child), "PID")
                    refusals[sentence] = refusals.get(sentence, 0) + 1
                    granted = []
            out["attempts"] = int(out["attempts"]) + 1  # type: ignore[call-overload]
            if granted:
                out["granted"] = int(out["granted"]) + 1  # type: ignore[call-overload]
                found = leaked(_read_grant(granted, SPIN_MS / 1000 + 0.1), code, secret, child)
                for key, value in found.items():
                    out[key] = int(out[key]) + value  # type: ignore[call-overload]
                if any(found.values()):
                    out["leaks"] = int(out["leaks"]) + 1  # type: ignore[call-overload]
                    out["outcomes"] = str(out["outcomes"]) + "L"
                    if stop_at_leak == "yes":
                        break  # one leak is the proof; no need to go on
                else:
                    out["outcomes"] = str(out["outcomes"]) + "g"
            else:
                out["outcomes"] = str(out["outcomes"]) + "r"
        finally:
            os.close(go_w)
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(child, 0)
    out["refusals"] = refusals
    return out


def scenario_on_exec(socket_path: str, spinner: str, secret_path: str, secret: bytes) -> dict[str, object]:
    code = code_range(spinner)
    go_r, go_w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(go_w)
            if os.read(go_r, 1) == b"g":
                os.execv(spinner, [spinner, secret_path, str(SPIN_MS)])
        finally:
            os._exit(127)
    os.close(go_r)
    try:
        with StaxdClient(socket_path) as client:
            granted = client.open_events(OpenRequest(kind="sampling", pids=(child,), kernel_stacks=False,
                                                     frequency=997, call_graph="dwarf", start="on_exec"))
        out: dict[str, object] = {"fds": len(granted)}
        fds = [fd for fd, _ in granted]
        mapped = threading.Event()
        reader = threading.Thread(target=lambda: out.update(data=_drain_on_exec(fds, mapped)))
        reader.start()
        assert mapped.wait(10), "the reader did not map the rings"
        os.write(go_w, b"g")  # the held child execs the set-user-id program now
        reader.join()
        data = out.pop("data")
        assert isinstance(data, bytes)
        out.update(leaked(data, code, secret, child), bytes=len(data))
        _pid, status = os.waitpid(child, 0)
        out["spinner_exit"] = os.waitstatus_to_exitcode(status)
        return out
    finally:
        os.close(go_w)
        for fd, _ in locals().get("granted", []):
            os.close(fd)


def _drain_on_exec(fds: list[int], mapped: threading.Event) -> bytes:
    """Read the rings while the exec'd program runs (the kernel enables the events at exec);
    ``mapped`` is set once every ring is mapped, so the program may exec."""
    from stax_backend_linux.capture.ring_buffer import RingBuffer

    rings = [RingBuffer(fd, 64) for fd in fds]
    mapped.set()
    chunks: list[bytes] = []
    try:
        deadline = time.monotonic() + SPIN_MS / 1000 + 0.3
        while time.monotonic() < deadline:
            time.sleep(0.02)
            chunks.extend(r.read() for r in rings)
        chunks.extend(r.read() for r in rings)
    finally:
        for r in rings:
            r.close()
    return b"".join(chunks)


def main() -> None:
    scenario, socket_path, spinner, secret_path, *rest = sys.argv[1:]
    # The marker the secret file holds (this uid cannot read the file), reversed: the environment
    # lies at the top of the stack a DWARF sample copies, so the marker itself must not be in it.
    secret = os.environ["STAX_TEST_SECRET_REVERSED"][::-1].encode()
    handlers = {"race": scenario_race, "on_exec": scenario_on_exec}
    print(json.dumps(handlers[scenario](socket_path, spinner, secret_path, secret, *rest)))


if __name__ == "__main__":
    main()
