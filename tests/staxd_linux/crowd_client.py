"""Run as a member (the tests start it with setpriv): crowd staxd, and hold on while the test
checks that another member is still served.

``python crowd_client.py SCENARIO SOCKET ARGS`` talks on stdin/stdout, one JSON line per step:

  hold N REFUSED    open N connections and send nothing; wait (up to 10 s) until REFUSED of
                    them have the daemon's answer; print how many are still open and the
                    sentences the others got; on each "check" line from stdin, print how
                    many of the open ones the daemon has closed since.
  unread N THREADS  fork a child with THREADS threads; on N connections ask for sampling fds
                    on it and never read the replies; print {"child", "sent"}; on "read",
                    read each connection's first reply and print what each was (the number
                    of fds, or the refusal sentence); "request" sends one more such request
                    on a new connection and prints its reply.
The process exits (children killed, connections closed) when stdin closes.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

from forked_child import fork_when_ready  # the tests put this directory on PYTHONPATH

from stax_binfmt.staxd_protocol import MAX_MESSAGE, OpenRequest, encode


def _say(obj: object) -> None:
    print(json.dumps(obj), flush=True)


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sock.connect(path)
    return sock


def _reply(sock: socket.socket, timeout: float) -> str | int | None:
    """A whole reply: the number of fds of a grant (all its messages), or the error sentence;
    "closed" at EOF, "reset" on ECONNRESET, None if nothing came within ``timeout``."""
    fds_total = 0
    while True:
        if not select.select([sock], [], [], timeout)[0]:
            return None
        try:
            data, fds, _flags, _ = socket.recv_fds(sock, MAX_MESSAGE, 253)
        except ConnectionResetError:
            return "reset"
        for fd in fds:
            os.close(fd)
        if not data:
            return "closed"
        reply = json.loads(data)
        if not reply.get("ok"):
            return str(reply.get("error"))
        fds_total += len(fds)
        if not reply.get("more"):
            return fds_total


def scenario_hold(path: str, count: str, refused: str) -> None:
    socks = [_connect(path) for _ in range(int(count))]
    answered: dict[socket.socket, str | int] = {}
    deadline = time.monotonic() + 10
    while len(answered) < int(refused) and (left := deadline - time.monotonic()) > 0:
        waiting = [s for s in socks if s not in answered]
        for sock in select.select(waiting, [], [], left)[0]:
            answer = _reply(sock, 0)
            if answer is not None:
                answered[sock] = answer
    held, replies = [], []
    for sock in socks:
        answer = answered[sock] if sock in answered else _reply(sock, 0)
        if answer is None:
            held.append(sock)
        else:
            replies.append(answer)
    _say({"open": len(held), "replies": replies})
    for line in sys.stdin:
        if line.strip() == "check":
            closed = sum(1 for s in held if select.select([s], [], [], 0)[0] and not s.recv(MAX_MESSAGE))
            _say({"closed": closed})


def _threads_child(threads: int) -> int:
    """A child with ``threads`` parked threads, returned once they all run."""

    def park(ready: Callable[[], None]) -> None:
        parked = threading.Event()
        for _ in range(threads):
            threading.Thread(target=parked.wait, daemon=True).start()
        ready()
        parked.wait()

    return fork_when_ready(park)


def scenario_unread(path: str, count: str, threads: str) -> None:
    child = _threads_child(int(threads))
    try:
        socks = [_connect(path) for _ in range(int(count))]
        for sock in socks:
            sock.send(encode(OpenRequest(kind="sampling", pids=(child,), kernel_stacks=False).to_json()))
            # one request at a time, in order, as a member would: the next once this one is answered
            # (its first message is waiting; nothing is read)
            if not select.select([sock], [], [], 30)[0]:
                raise RuntimeError("staxd did not answer a sampling request within 30 s")
        _say({"child": child, "sent": len(socks)})
        for line in sys.stdin:
            if line.strip() == "read":
                _say({"replies": [_reply(sock, 10) for sock in socks]})
            elif line.strip() == "request":
                sock = _connect(path)
                socks.append(sock)
                sock.send(encode(OpenRequest(kind="sampling", pids=(child,), kernel_stacks=False).to_json()))
                _say({"reply": _reply(sock, 10)})
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def main() -> None:
    scenario, path, *rest = sys.argv[1:]
    {"hold": scenario_hold, "unread": scenario_unread}[scenario](path, *rest)


if __name__ == "__main__":
    main()
