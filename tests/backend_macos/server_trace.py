"""One synthesized trace of a two-thread server, with every figure the views must show known exactly.

pid 501 ``server``: MAIN runs 400 ms on CPU 0 (300 samples in ``hot`` and 100 in
``warm``, both called from ``main``), then sleeps twice for 10 ms in
``__semwait_signal`` (syscall 334), woken by a kernel thread.  WORKER (named
``worker`` by pthread_setname_np) runs 50 ms in ``hot`` under ``worker_main`` on
CPU 1, blocks four times for 5 ms in ``psynch_cvwait`` (syscall 305) inside
``wait_for_work``, each time woken by MAIN, and is preempted twice for 1 ms
(AST_QUANTUM).  The image is the real Mach-O ``server`` loaded (dyld MAP events) at
:data:`LOAD_ADDRESS`.  The kperf timer period is 1 ms.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.backend_macos.conftest import ServerBinary
from tests.backend_macos.kdebug_builder import MS, US, Trace

PID = 501
MAIN, WORKER = 0x3E8A1, 0x3E8A2
IDLE0, IDLE1, KERNEL_WAKER = 0x65, 0x66, 0x67
LOAD_ADDRESS = 0x104A48000
KERNEL_STACK = (0xFFFFFE0007A31234, 0xFFFFFE0007A40000)
AST_QUANTUM = 0x2
SEMWAIT_SIGNAL, PSYNCH_CVWAIT = 334, 305

MAIN_HOT, MAIN_WARM, WORKER_HOT = 300, 100, 50
LOCK_SPANS, LOCK_NS = 4, 5 * MS
SLEEP_SPANS, SLEEP_NS = 2, 10 * MS
PREEMPTIONS, PREEMPT_NS = 2, 1 * MS


def server_trace(binary: ServerBinary) -> Trace:
    steps: list[tuple[int, int, Callable[[Trace], None]]] = []
    seq = 0

    def at(ns: int, action: Callable[[Trace], None]) -> None:
        nonlocal seq
        steps.append((ns, seq, action))
        seq += 1

    def addr(function: str, offset: int) -> int:
        return LOAD_ADDRESS + binary.offsets[function] + offset

    main_hot = [addr("hot", 0x10), addr("main", 0x20)]
    main_warm = [addr("warm", 0x8), addr("main", 0x24)]
    worker_hot = [addr("hot", 0x14), addr("worker_main", 0x18)]
    worker_wait = [addr("wait_for_work", 0x8), addr("worker_main", 0x10)]

    at(0, lambda t: t.dyld_image(500 * US, MAIN, str(binary.path), binary.uuid, LOAD_ADDRESS))
    at(600 * US, lambda t: t.thread_name(600 * US, WORKER, "worker", cpu=1))
    at(1 * MS, lambda t: t.timer_fire(1 * MS, 1 * MS))
    for i in range(MAIN_HOT + MAIN_WARM):
        ns = 10 * MS + i * MS
        stack = main_hot if i < MAIN_HOT else main_warm
        at(ns, lambda t, ns=ns, stack=stack: t.sample(ns, PID, MAIN, user=stack, user_later_ns=ns + 5 * US))
    for j in range(WORKER_HOT):
        ns = 10 * MS + 500 * US + j * MS
        at(ns, lambda t, ns=ns: t.sample(ns, PID, WORKER, user=worker_hot, cpu=1, user_later_ns=ns + 5 * US,
                                         kernel=KERNEL_STACK))
    for k in range(LOCK_SPANS):
        out, back = 70 * MS + k * 10 * MS, 70 * MS + k * 10 * MS + LOCK_NS

        def block(t: Trace, out: int = out, back: int = back) -> None:
            t.syscall(out, WORKER, PSYNCH_CVWAIT, cpu=1)
            t.switch(out, WORKER, IDLE1, cpu=1)
            t.make_runnable(back - 20 * US, MAIN, WORKER)
            t.switch(back, IDLE1, WORKER, cpu=1)
            t.sample(back, PID, WORKER, kernel=KERNEL_STACK, user=worker_wait, cpu=1, at_switch=True,
                     user_later_ns=back + 10 * US)
            t.syscall(back + 10 * US, WORKER, PSYNCH_CVWAIT, end=True, cpu=1)
        at(out, block)
    for p in range(PREEMPTIONS):
        out = 120 * MS + p * 10 * MS

        def preempt(t: Trace, out: int = out) -> None:
            t.switch(out, WORKER, IDLE1, reason=AST_QUANTUM, cpu=1)
            t.switch(out + PREEMPT_NS, IDLE1, WORKER, cpu=1)
        at(out, preempt)
    for s in range(SLEEP_SPANS):
        out = 420 * MS + s * 20 * MS

        def sleep(t: Trace, out: int = out) -> None:
            t.syscall(out, MAIN, SEMWAIT_SIGNAL)
            t.switch(out, MAIN, IDLE0)
            t.make_runnable(out + SLEEP_NS - 30 * US, KERNEL_WAKER, MAIN)
            t.switch(out + SLEEP_NS, IDLE0, MAIN)
            t.syscall(out + SLEEP_NS + 5 * US, MAIN, SEMWAIT_SIGNAL, end=True)
        at(out, sleep)

    trace = Trace()
    for tid, pid, command in ((MAIN, PID, "server"), (WORKER, PID, "server"), (IDLE0, 0, "kernel_task"),
                              (IDLE1, 0, "kernel_task"), (KERNEL_WAKER, 0, "kernel_task")):
        trace.thread(tid, pid, command)
    for _ns, _seq, action in sorted(steps, key=lambda s: (s[0], s[1])):
        action(trace)
    trace.records.sort(key=lambda r: r[0])  # stable: each block keeps its order
    return trace
