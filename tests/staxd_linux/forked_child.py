"""A forked workload that says when it is ready: one byte on a pipe, not a sleep.

The member-side scripts (nobody_client.py, ring_client.py, attack_client.py,
crowd_client.py) fork the process they then ask staxd about.  The parent must not ask
before the child has set itself up (its threads started, its CPU chosen, its waker
forked); the child writes one byte when it has, and the parent blocks on that byte.
"""

from __future__ import annotations

import os
from collections.abc import Callable


def fork_when_ready(child_main: Callable[[Callable[[], None]], object]) -> int:
    """Fork; the child runs ``child_main(ready)`` and must call ``ready()`` once set up.

    Returns the child's pid after it called ``ready()``; raises if it exited before.
    The child never returns into the caller's code: it ends with ``os._exit``.
    """
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        def ready() -> None:
            os.write(ready_w, b"r")
            os.close(ready_w)

        status = 1  # child_main raised (an exec that failed, say)
        try:
            os.close(ready_r)
            child_main(ready)
            status = 0
        finally:
            os._exit(status)
    os.close(ready_w)
    try:
        got = os.read(ready_r, 1)
    finally:
        os.close(ready_r)
    if got != b"r":
        os.waitpid(pid, 0)
        raise RuntimeError(f"the forked child {pid} exited before it was ready")
    return pid
