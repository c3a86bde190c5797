"""A thread that empties the kernel's ring buffers into memory as soon as they have data.

Decoding is Python and can fall behind a burst (off-CPU recording of a program that
switches tens of thousands of times a second writes megabytes a second per CPU);
if the rings were only read between decodes, the kernel would fill them and drop
records (PERF_RECORD_LOST).  This thread only copies: it sleeps in poll(2) on the
ring fds (woken by ``wakeup_watermark``, or every ``tick`` seconds), copies
``[data_tail, data_head)`` of every ring out and hands the space back
(:meth:`RingBuffer.read`), and queues the copies as one *round*.  The capture loop
takes the queued rounds and decodes them at its own pace, so the kernel never waits
on Python.  poll() and the memcpy release or barely hold the GIL, so the decoding
thread delays this one by at most the interpreter's switch interval (5 ms).

The spool is bounded (``max_spool_bytes``): past it, the thread stops copying, the
rings fill and the kernel counts what it drops, rather than memory growing without end.
"""

from __future__ import annotations

import select
import threading
from collections.abc import Sequence

from stax_backend_linux.capture.ring_buffer import RingBuffer

DRAIN_TICK_S = 0.02
MAX_SPOOL_BYTES = 512 << 20
TAKE_BYTES = 4 << 20
"""How much one :meth:`RingDrainer.take` hands out: decoding and sorting a batch holds the
GIL in long C calls (list.sort), and this thread must not wait behind them for long."""

Round = list[bytes]
"""One chunk per ring (b'' for an empty one), in ring order."""


class RingDrainer:
    """Copies every ring into a queue of rounds from a background thread (see module doc)."""

    def __init__(self, rings: Sequence[RingBuffer], *, tick: float = DRAIN_TICK_S,
                 max_spool_bytes: int = MAX_SPOOL_BYTES) -> None:
        self.rings = list(rings)
        self.tick = tick
        self.max_spool_bytes = max_spool_bytes
        self.spooled_bytes = 0
        self.peak_spool_bytes = 0
        self.rounds = 0
        self._queue: list[tuple[Round, int]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="stax-ring-drainer", daemon=True)
        self._thread.start()

    def drain_once(self) -> None:
        """Copy every ring now (the thread's step; also the final drain after stopping)."""
        if self.spooled_bytes >= self.max_spool_bytes:
            return  # let the kernel drop and count, rather than grow without bound
        chunks = [ring.read() for ring in self.rings]
        size = sum(map(len, chunks))
        if not size:
            return
        with self._lock:
            self._queue.append((chunks, size))
            self.spooled_bytes += size
            self.peak_spool_bytes = max(self.peak_spool_bytes, self.spooled_bytes)
            self.rounds += 1

    @property
    def backlog(self) -> int:
        """Bytes copied and not yet taken."""
        return self.spooled_bytes

    def take(self, max_bytes: int = TAKE_BYTES) -> list[bytes]:
        """The oldest queued rounds (at least one, about ``max_bytes``), one chunk per ring.

        Rounds are handed out whole and in order, so the time orderer's rule (everything
        up to the previous batch's newest time is complete) still holds.
        """
        if self._error is not None:
            raise self._error
        with self._lock:
            count = total = 0
            for _chunks, size in self._queue:
                if count and total + size > max_bytes:
                    break
                count += 1
                total += size
            queued = [chunks for chunks, _size in self._queue[:count]]
            del self._queue[:count]
            self.spooled_bytes -= total
        if not queued:
            return []
        if len(queued) == 1:
            return queued[0]
        return [b"".join(parts) for parts in zip(*queued, strict=True)]

    def stop(self) -> None:
        """Stop the thread; then one last :meth:`drain_once` from the caller picks up the rest."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        poller = select.poll()
        for ring in self.rings:
            poller.register(ring.fd, select.POLLIN)
        tick_ms = max(1, int(self.tick * 1000))
        try:
            while not self._stop.is_set():
                for fd, revents in poller.poll(tick_ms):
                    if revents & (select.POLLHUP | select.POLLERR):
                        poller.unregister(fd)  # the event's task is gone; its ring is still read
                self.drain_once()
        except BaseException as exc:  # surfaced to the capture loop by take()
            self._error = exc
