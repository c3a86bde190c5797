"""Post-processing speed on 200k samples: prints samples/s for top, collapse and flamegraph.

No timing assertion (machines differ); the figure to compare is perf report --stdio's
~265k samples/s on this class of machine.  Run with ``-s`` to see the numbers.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stax.cli.app import run
from tests.render.synthetic_recording import write_recording

SAMPLES = 200_000


@pytest.fixture(scope="module")
def big_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200k samples over ~5,000 distinct stacks 8-16 frames deep, in 4 threads."""
    stacks = []
    for i in range(5_000):
        depth = 8 + i % 9
        frames = ["main", f"phase{i % 4}"] + [f"mod{(i >> k) % 40}_fn{k}" for k in range(depth - 3)]
        frames.append(f"leaf{i % 700}")
        stacks.append((";".join(frames), SAMPLES // 5_000, 101 + i % 4))
    threads = {100: "bench", 101: "w1", 102: "w2", 103: "w3", 104: "w4"}
    return write_recording(tmp_path_factory.mktemp("speed") / "big.stax", stacks, threads=threads)


def best_of(times: int, action) -> float:
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def test_speed(big_rec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def quiet(*argv: str) -> None:
        assert run(list(argv)) == 0
        capsys.readouterr()

    t_top = best_of(3, lambda: quiet("top", str(big_rec)))
    t_collapse = best_of(3, lambda: quiet("collapse", str(big_rec)))
    svg = tmp_path / "big.svg"
    t_flame = best_of(3, lambda: quiet("flamegraph", str(big_rec), "-o", str(svg)))
    stax = str(Path(sys.executable).parent / "stax")
    t_exe = best_of(3, lambda: subprocess.run([stax, "top", str(big_rec)], check=True,
                                              capture_output=True))
    t_exe_empty = best_of(3, lambda: subprocess.run([stax, "--version"], check=True,
                                                    capture_output=True))
    from stax.analysis.profile import Profile

    t_profile = best_of(3, lambda: Profile.from_path(big_rec))
    profile = Profile.from_path(big_rec)
    out = io.StringIO()
    with capsys.disabled():
        print(f"\n{SAMPLES:,} samples, {len(profile.leaf_nodes):,} distinct stacks,"
              f" {profile.node_count:,} tree nodes")
        print(f"  Profile.from_path    {t_profile * 1e3:7.1f} ms")
        print(f"  stax top (in-proc)   {t_top * 1e3:7.1f} ms  {SAMPLES / t_top:12,.0f} samples/s")
        print(f"  stax collapse        {t_collapse * 1e3:7.1f} ms  {SAMPLES / t_collapse:12,.0f} samples/s")
        print(f"  stax flamegraph      {t_flame * 1e3:7.1f} ms  {SAMPLES / t_flame:12,.0f} samples/s"
              f"  ({svg.stat().st_size / 1024:,.0f} KiB)")
        print(f"  stax top (process)   {t_exe * 1e3:7.1f} ms  {SAMPLES / t_exe:12,.0f} samples/s"
              f"  (interpreter start + imports alone: {t_exe_empty * 1e3:.0f} ms)")
    assert out.getvalue() == ""
