"""``stax import`` of a real ``perf record --call-graph dwarf``: perf's user stack copies unwound.

perf records each sample's user registers and a copy of its user stack (and only the
kernel part of the callchain); the importer unwinds the copies with stax's own CFI
unwinder (the DwarfSampleStream of ``stax record --call-graph dwarf``).  The callers
must be perf's own (``perf report --no-children -g folded,0,caller,count``, unwound by
perf with elfutils): the caller of qsort's comparator is glibc's merge sort, reached
from the program's driver; fill_pages() and count_len() each hold half of
leaf_callers.c's main thread, under glibc's frameless memset and strlen.  Without the
unwinding no user caller is found at all.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest

from stax.recording import meta_keys
from stax.recording.reader import Recording
from tests.backend_linux.perf_data.conftest import perf, perf_record
from tests.cli.conftest import stax
from tests.conftest import REPO, compile_c

pytestmark = pytest.mark.slow
LEAF_CALLERS = REPO / "tests" / "backend_linux" / "unwind" / "hybrid" / "leaf_callers.c"
QSORT = REPO / "tests" / "backend_linux" / "unwind" / "programs" / "qsort_workload.c"

Stacks = list[tuple[list[str], int]]
"""(frames root first, samples)."""


def perf_stacks(data: Path, *filters: str) -> Stacks:
    """Every sample's stack as perf report unwinds it (inlined frames without perf's mark)."""
    out = perf("report", "-i", str(data), "--no-children", "--sort", "sym", "--stdio",
               "-g", "folded,0,caller,count", *filters).stdout
    return [([f.removesuffix(" (inlined)") for f in m[2].split(";")], int(m[1]))
            for m in re.finditer(r"^(\d+) (.+)$", out, re.MULTILINE)]


def stax_stacks(rec: Path, thread_prefix: str | None = None) -> Stacks:
    text = stax("collapse", *(("--per-thread",) if thread_prefix else ()), str(rec)).stdout
    stacks = []
    for line in text.splitlines():
        stack, _, weight = line.rpartition(" ")
        frames = stack.split(";")
        if thread_prefix is not None:
            if not frames[0].startswith(thread_prefix):
                continue
            frames = frames[1:]
        stacks.append((frames, int(weight)))
    return stacks


def shares(stacks: Stacks, names: Iterable[str]) -> dict[str, float]:
    """Of all samples, the share with each name on the stack."""
    total = sum(n for _, n in stacks)
    assert total > 0
    return {name: sum(n for frames, n in stacks if name in frames) / total for name in names}


def callers_of(stacks: Stacks, function: str) -> tuple[int, Counter[str], float]:
    """(samples in ``function``, its immediate callers' shares, share reached from driver_qsort)."""
    total = from_driver = 0
    callers: Counter[str] = Counter()
    for frames, n in stacks:
        if function in frames:
            at = frames.index(function)
            total += n
            callers[frames[at - 1] if at else "(none)"] += n
            from_driver += n * ("driver_qsort" in frames[:at])
    assert total > 0, f"no sample in {function}"
    return total, Counter({k: v / total for k, v in callers.items()}), from_driver / total


def imported(data: Path, out: Path) -> Path:
    rec = out / f"{data.stem}.stax"
    result = stax("import", str(data), "-o", str(rec))
    assert "stax does not unwind" not in result.stderr and "user callers are missing" not in result.stderr
    return rec


def test_qsort_comparator_called_through_glibc_as_perf_unwinds_it(tmp_path: Path) -> None:
    program = compile_c(QSORT, tmp_path / "qsort_workload", "-O2", "-fomit-frame-pointer")
    data = perf_record(tmp_path / "qsort.data", "--call-graph", "dwarf", "-F", "999", str(program), "400")
    theirs = callers_of(perf_stacks(data), "compare_ints")
    ours = callers_of(stax_stacks(imported(data, tmp_path)), "compare_ints")
    print(f"perf: {theirs}\nstax: {ours}")
    assert ours[0] == theirs[0]  # the same samples in the comparator
    assert ours[1].most_common(1)[0][0] == theirs[1].most_common(1)[0][0] == "msort_with_tmp"
    for caller, share in theirs[1].items():
        assert abs(ours[1][caller] - share) <= 0.01, (caller, ours[1], theirs[1])
    assert theirs[2] > 0.95 and abs(ours[2] - theirs[2]) <= 0.01


def test_memset_and_strlen_callers_at_half_each_as_perf_report(tmp_path: Path) -> None:
    program = compile_c(LEAF_CALLERS, tmp_path / "leaf_callers", "-O2", "-g", "-fno-omit-frame-pointer",
                        "-pthread")
    data = perf_record(tmp_path / "leaf.data", "--call-graph", "dwarf", str(program), "300")
    callers = ("fill_pages", "count_len")
    theirs = shares(perf_stacks(data, "--comm", "leafmain"), callers)
    ours = shares(stax_stacks(imported(data, tmp_path), "leafmain-"), callers)
    print(f"perf: {theirs}\nstax: {ours}")
    for name in callers:
        assert theirs[name] > 0.45
        assert abs(ours[name] - theirs[name]) <= 0.01, (name, ours, theirs)


def test_summary_counts_the_unwound_samples(tmp_path: Path, perf_workloads: dict[str, Path]) -> None:
    hotspots = str(perf_workloads["hotspots"])
    data = perf_record(tmp_path / "h.data", "--call-graph", "dwarf,4096", hotspots, "0.3")
    recording = Recording.open(imported(data, tmp_path))
    try:
        meta = recording.meta()
    finally:
        recording.close()
    assert meta["import.unwind.dwarf_stack_size"] == 4096
    assert meta["import.unwind.dwarf_samples"] == meta["import.unwind.dwarf_unwound"] > 10
    assert all(meta_keys.is_named(key) for key in meta)
