"""stax's DWARF stacks against perf's on the same workload: the hottest call chains agree.

perf record --call-graph dwarf and perf script (elfutils underneath) unwind the same
kind of register and stack dumps; two separate runs of qsort_split sample different
moments, so chains are compared by their share of samples, within a tolerance that
is ~4 standard deviations of the sampling noise at these sample counts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.backend_linux.dwarf_callgraph.conftest import SECONDS, Chain

pytestmark = pytest.mark.skipif(shutil.which("perf") is None, reason="perf is not installed")

TOP = 10
SHARE_TOLERANCE = 0.04
UNKNOWN = "?"
# The same function under two names: perf reads the ELF symbol table (exported alias),
# stax the DWARF name of the implementation.
ALIASES = {"__libc_start_main_impl": "__libc_start_main"}
_CLONE_SUFFIX = re.compile(r"(\.(part|isra|constprop|cold|lto_priv)\.\d+)+$")
_FRAME = re.compile(r"^\s+[0-9a-f]+ (.*) \((.*)\)$")


def normalise(name: str) -> str:
    """One spelling per function: no symbol version, no GCC clone suffix, unknowns as '?'."""
    if name == "[unknown]" or re.fullmatch(r".+\+0x[0-9a-f]+", name):
        return UNKNOWN
    name = _CLONE_SUFFIX.sub("", name.split("@", 1)[0])
    return ALIASES.get(name, name)


def perf_chains(data: Path) -> Counter[Chain]:
    text = subprocess.run(["perf", "script", "-i", str(data), "-F", "ip,sym,dso", "--no-inline"],
                          capture_output=True, text=True, check=True).stdout
    counts: Counter[Chain] = Counter()
    current: list[str] = []
    for line in text.splitlines() + [""]:
        match = _FRAME.match(line)
        if match:
            if match.group(2) != "[kernel.kallsyms]":
                current.append(normalise(match.group(1)))
        elif current:
            counts[tuple(current)] += 1
            current = []
    return counts


def _matches(a: Chain, b: Chain) -> bool:
    return len(a) == len(b) and all(x == y or UNKNOWN in (x, y) for x, y in zip(a, b, strict=True))


def _share_of(chain: Chain, counts: Counter[Chain], total: int) -> float:
    return sum(n for c, n in counts.items() if _matches(chain, c)) / total


@pytest.fixture(scope="module")
def perf_recording(qsort_split: Path, work_dir: Path) -> Path:
    out = work_dir / "perf.data"
    proc = subprocess.run(["perf", "record", "-q", "-B", "-N", "-o", str(out), "--call-graph", "dwarf",
                           "-F", "999", str(qsort_split), SECONDS], capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        pytest.skip(f"perf record failed here: {proc.stderr.strip()[:200]}")
    return out


def test_top_chains_agree_with_perf(perf_recording: Path, dwarf_chains: Counter[Chain]) -> None:
    theirs = perf_chains(perf_recording)
    ours: Counter[Chain] = Counter()
    for chain, count in dwarf_chains.items():
        if chain:
            ours[tuple(normalise(n) for n in chain)] += count
    their_total, our_total = sum(theirs.values()), sum(ours.values())
    assert their_total > 300 and our_total > 300
    top_theirs = [c for c, _ in theirs.most_common(TOP)]
    top_ours = [c for c, _ in ours.most_common(TOP)]
    assert all(c[-1] == "_start" for c in top_theirs), top_theirs  # perf's own unwinding is whole here
    problems = []
    for chain in top_theirs:
        a, b = _share_of(chain, theirs, their_total), _share_of(chain, ours, our_total)
        if abs(a - b) > SHARE_TOLERANCE:
            problems.append(("perf top", " <- ".join(chain), f"perf {a:.1%}", f"stax {b:.1%}"))
    for chain in top_ours:
        a, b = _share_of(chain, theirs, their_total), _share_of(chain, ours, our_total)
        if abs(a - b) > SHARE_TOLERANCE:
            problems.append(("stax top", " <- ".join(chain), f"perf {a:.1%}", f"stax {b:.1%}"))
    assert not problems, problems
