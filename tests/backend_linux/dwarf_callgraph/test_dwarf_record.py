"""``stax record --call-graph dwarf`` end to end on a program without frame pointers.

qsort_split (see workloads/qsort_split.c) spends its time in qsort comparators called
from glibc's qsort internals; neither has frame pointers, so the in-kernel
frame-pointer walk loses the callers and only CFI unwinding reaches ``main``.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from stax.recording.reader import Recording
from tests.backend_linux.dwarf_callgraph.conftest import (
    COMPARATORS,
    SECONDS,
    Chain,
    record,
    record_with_summary,
    stax,
    user_chains,
)
from tests.conftest import REPO, compile_c

TRUNCATED = "[truncated]"


def _comparator_samples(chains: Counter[Chain]) -> Counter[Chain]:
    return Counter({c: n for c, n in chains.items() if c and c[0] in COMPARATORS})


def _reaches_main_through_qsort(chain: Chain) -> bool:
    """comparator -> glibc qsort internals (msort_with_tmp..., qsort_r) -> driver -> main."""
    if "driver" not in chain:
        return False
    at = chain.index("driver")
    between = chain[1:at]
    return (bool(between) and all("msort" in n or "qsort" in n for n in between)
            and chain[at + 1:at + 2] == ("main",))


def test_dwarf_stacks_reach_main_through_qsort(dwarf_chains: Counter[Chain]) -> None:
    comparators = _comparator_samples(dwarf_chains)
    total = sum(comparators.values())
    assert total > 300, dwarf_chains.most_common(5)
    good = sum(n for c, n in comparators.items() if _reaches_main_through_qsort(c))
    bad = [c for c in comparators if not _reaches_main_through_qsort(c)]
    assert good / total >= 0.99, bad[:5]
    # and they are complete: nothing marked truncated, the root is _start
    assert all(c[-1] == "_start" for c in comparators), bad[:5]


def test_dwarf_keeps_the_three_to_one_split(dwarf_chains: Counter[Chain]) -> None:
    comparators = _comparator_samples(dwarf_chains)
    a = sum(n for c, n in comparators.items() if c[0] == "compare_a")
    share = a / sum(comparators.values())
    assert 0.65 <= share <= 0.85, share


def test_dwarf_recording_metadata(dwarf_recording: Path) -> None:
    recording = Recording.open(dwarf_recording)
    try:
        meta = recording.meta()
    finally:
        recording.close()
    assert meta["call_graph"] == "dwarf"
    assert "backend.call_graph" not in meta  # written once, by stax record
    assert meta["backend.dwarf_stack_size"] == 8192
    assert meta["backend.dwarf_unwound"] == meta["backend.dwarf_samples"] > 300
    assert meta["backend.dwarf_truncated"] <= 0.01 * meta["backend.dwarf_unwound"]


def test_frame_pointers_lose_the_callers(qsort_split: Path, work_dir: Path) -> None:
    """The same program with --call-graph fp-only: the kernel's rbp walk cannot get through, and
    the summary suggests --call-graph dwarf."""
    summary = record_with_summary(work_dir / "fp.stax", str(qsort_split), SECONDS, call_graph="fp-only")
    chains = user_chains(work_dir / "fp.stax")
    comparators = _comparator_samples(chains)
    total = sum(comparators.values())
    assert total > 300
    good = sum(n for c, n in comparators.items() if _reaches_main_through_qsort(c))
    assert good / total < 0.5, comparators.most_common(3)
    hints = [line for line in summary.splitlines() if "--call-graph dwarf" in line]
    assert len(hints) == 1 and hints[0].endswith("."), summary


def test_no_suggestion_for_whole_frame_pointer_stacks(work_dir: Path) -> None:
    """A frame-pointer build whose stacks reach _start gets no DWARF suggestion."""
    exe = compile_c(REPO / "tests" / "backend_linux" / "workloads" / "hot_split.c", work_dir / "hot_split",
                    "-O1", "-fno-omit-frame-pointer")
    summary = record_with_summary(work_dir / "hot.stax", str(exe), "1", call_graph="fp")
    assert "--call-graph dwarf" not in summary
    assert "recorded" in summary


def test_tiny_stack_copy_is_truncated_never_wrong(qsort_split: Path, work_dir: Path,
                                                  dwarf_chains: Counter[Chain]) -> None:
    """dwarf,64 copies 64 bytes of stack: stacks stop early, marked, and are prefixes of real ones."""
    chains = user_chains(record(work_dir / "tiny.stax", str(qsort_split), "1", call_graph="dwarf,64"))
    full = set(dwarf_chains)
    comparators = _comparator_samples(chains)
    assert sum(comparators.values()) > 100
    truncated = 0
    for chain, count in comparators.items():
        if chain[-1] == TRUNCATED:
            truncated += count
            prefix = chain[:-1]
            assert any(f[:len(prefix)] == prefix for f in full), chain
        else:
            assert chain in full, chain  # complete: then it must be a real full chain
    assert truncated / sum(comparators.values()) >= 0.95


def test_exec_through_a_shell(qsort_split: Path, work_dir: Path) -> None:
    """sh -c: samples after the exec unwind with the new image's tables, and resolve in it."""
    chains = user_chains(record(work_dir / "sh.stax", "sh", "-c", f"{qsort_split} 1; true"))
    comparators = _comparator_samples(chains)
    total = sum(comparators.values())
    assert total > 150
    good = sum(n for c, n in comparators.items() if _reaches_main_through_qsort(c))
    assert good / total >= 0.99


PYTHON_LOOP = "import time\nend = time.monotonic() + 2\nx = 0\nwhile time.monotonic() < end:\n    x += 1\n"


def test_python_stacks_reach_main(work_dir: Path) -> None:
    """The interpreter running the tests (Debian's python3 here, built without frame pointers):
    its loop unwinds to Py_RunMain."""
    chains = user_chains(record(work_dir / "python.stax", sys.executable, "-c", PYTHON_LOOP))
    with_user = {c: n for c, n in chains.items() if c}
    total = sum(with_user.values())
    assert total > 500
    entry = ("Py_RunMain", "Py_BytesMain", "main")
    good = sum(n for c, n in with_user.items() if any(name in entry for name in c))
    worst = [c for c, _ in Counter({c: n for c, n in with_user.items()
                                    if not any(name in entry for name in c)}).most_common(3)]
    assert good / total >= 0.9, worst


def test_bad_stack_size_is_one_sentence(qsort_split: Path, work_dir: Path) -> None:
    proc = subprocess.run([str(Path(sys.executable).parent / "stax"), "record", "--call-graph", "dwarf,70000",
                           "-o", str(work_dir / "bad.stax"), "--", str(qsort_split), "0.1"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "65528" in proc.stderr


def test_summary_sentences(qsort_split: Path, work_dir: Path) -> None:
    proc = stax("record", "--no-off-cpu", "--call-graph", "dwarf", "-o", str(work_dir / "s.stax"), "--",
                str(qsort_split), "0.5")
    assert "Traceback" not in proc.stderr
    assert "--call-graph dwarf" not in proc.stderr  # no suggestion when already unwinding with DWARF
