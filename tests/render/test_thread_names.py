"""Thread names in the views: the idle task is ``swapper``, never ``?-0``; ``?`` only when unnamed.

The recording holds a wakeup done by tid 0 (an interrupt on an idle CPU, as the kernel
reports it outside interrupt context), and samples of the
idle task itself (``stax record -a``), which no comm event names.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stax.blocked_reason import BlockedReason
from stax.cli.app import run
from stax.events import Sample, Wakeup
from tests.backend_linux.off_cpu.synthetic_off_cpu import MS, OffCpuRecording


@pytest.fixture(scope="module")
def idle_waker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rec = OffCpuRecording(tmp_path_factory.mktemp("idle") / "idle.stax", 100, {100: "main", 101: "worker"})
    rec.samples("main;work", 100, 5)
    rec.span("main;nap;schedule;__schedule", 101, 5 * MS, BlockedReason.SLEEP)
    # tid 0 wakes the worker, with a user-less stack (the idle task runs no user code)
    span_end = rec.clock - 1000
    rec.events.append(Wakeup(span_end - 1000, 0, 0, 0, 100, 101, (), ()))
    # the idle task on CPU, as `stax record -a` samples it: pid 0, tid 0, kernel code only
    kernel, _ = rec._ips("schedule")
    rec.events += [Sample(rec.clock + i * MS, 0, 0, 0, MS, kernel, ()) for i in range(3)]
    return rec.write()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = run(list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_idle_task_is_swapper(idle_waker: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = _run(capsys, "threads", str(idle_waker))
    assert "swapper-0" in text and "?-0" not in text
    wakers = json.loads(_run(capsys, "threads", str(idle_waker), "--json"))
    (worker,) = [t for t in wakers["threads"] if t["tid"] == 101]
    assert [(w["tid"], w["name"]) for w in worker["wakers"]] == [(0, "swapper")]
    chains = _run(capsys, "wakers", str(idle_waker))
    assert "woken by swapper-0" in chains and "?-0" not in chains
    top = _run(capsys, "top", str(idle_waker))
    assert "swapper-0" in top and "?-0" not in top
    folded = _run(capsys, "collapse", str(idle_waker), "--per-thread")
    assert "swapper-0;" in folded and "?-0" not in folded
