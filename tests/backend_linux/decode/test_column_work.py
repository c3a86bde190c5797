"""fast_columns.c's per-row work (CompiledRawStacks) against RawStacks' Python reference.

The recording builder translates each run's raw stack ids through the interner's table and
adds the run's samples up per (pid, tid, stack) with whichever the run's stacks offer; the
compiled versions must give exactly what the Python ones give: ids past the table and
entries not interned yet (-1) counted as misses, groups in order of first appearance.
"""

from __future__ import annotations

import random
from array import array

import pytest

from stax.event_columns import RawStacks
from stax_backend_linux.decode import fast_decoder
from stax_backend_linux.decode.compiled_stream import CompiledRawStacks

fast = fast_decoder.load()
compiled = pytest.mark.skipif(fast is None, reason="no compiled decoder (no compiler, or STAX_PURE_PYTHON=1)")


@compiled
@pytest.mark.parametrize("n", [0, 1, 5_000])
def test_translate_gives_the_python_ids_and_misses(n: int) -> None:
    assert fast is not None
    rng = random.Random(n)
    table = array("q", [rng.choice([-1, rng.randrange(1_000_000)]) for _ in range(300)])
    raws = array("q", [rng.randrange(-3, 320) for _ in range(n)])  # some outside the table
    got = CompiledRawStacks(fast.ffi, fast.lib).translate(table, raws)
    want = RawStacks().translate(table, raws)
    assert got == want
    assert n < 1_000 or 0 < len(want[1]) < n


@compiled
@pytest.mark.parametrize("n", [0, 1, 20_000])
def test_add_up_gives_the_python_groups_in_first_appearance_order(n: int) -> None:
    assert fast is not None
    rng = random.Random(n)
    tids = [rng.choice([(7, 7), (7, 8), (20, 20), (-1, -1), (2**40, 2**40 + 1)]) for _ in range(n)]
    pid = array("q", [p for p, _ in tids])
    tid = array("q", [t for _, t in tids])
    stack = array("q", [rng.randrange(-2, 400) for _ in range(n)])
    weight = array("q", [rng.choice([1_000_000, 1_000_000, -5, 2**50]) for _ in range(n)])
    got = CompiledRawStacks(fast.ffi, fast.lib).add_up(pid, tid, stack, weight)
    want = RawStacks().add_up(pid, tid, stack, weight)
    assert got == want
    assert sum(want[3]) == n
    assert n < 1_000 or len(want[0]) > 1_000
