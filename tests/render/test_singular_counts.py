"""A count of one is said in the singular in every view: "1 sample", "1 span", never "1 samples".

One recording holds exactly one sample, one blocked span (woken once) and one preempted
span; every text view of it is read for a count of one followed by a plural noun.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stax.blocked_reason import BlockedReason
from stax.cli.app import run
from tests.backend_linux.off_cpu.synthetic_off_cpu import MS, OffCpuRecording

ONE_PLURAL = re.compile(r"(?<![\d,.])1 (samples|spans|threads|wakers|more wakers|blocked stacks|wakeups)\b")


@pytest.fixture(scope="module")
def one_of_each(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rec = OffCpuRecording(tmp_path_factory.mktemp("one") / "one.stax", 100, {100: "solo", 101: "waker"})
    rec.samples("main;work", 100, 1)
    rec.span("main;nap;schedule;__schedule", 100, 5 * MS, BlockedReason.SLEEP, waker=(101, "main;poke"))
    rec.span("main;work;schedule", 100, 1 * MS, BlockedReason.PREEMPTED)
    return rec.write()


@pytest.mark.parametrize("argv", [
    ["top"], ["top", "--off-cpu"], ["threads"], ["wakers"], ["annotate"], ["annotate", "--off-cpu"],
    ["flamegraph", "--output=-"], ["flamegraph", "--off-cpu", "--output=-"],
    ["top", "--off-cpu", "-p", "100"],
])
def test_one_is_singular(one_of_each: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = run([argv[0], str(one_of_each), *argv[1:]])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    text = captured.out + captured.err
    assert not ONE_PLURAL.findall(text), [line for line in text.splitlines() if ONE_PLURAL.search(line)]
    if argv[0] not in ("top", "threads") or "--off-cpu" in argv:  # tables say counts in columns
        assert re.search(r"\b1 (sample|span)\b", text), text
