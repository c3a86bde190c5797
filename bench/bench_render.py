"""Post-processing speed of the views on a synthetic 200k-sample recording, as samples/s.

The recording (written by the tests' synthetic-recording helper through the real
RecordingBuilder) has 200,000 samples over 5,000 distinct stacks 8-16 frames deep in
4 threads, so the figure is the views' own cost, without a capture.  Figures, each the
best of ``--repeat`` runs:
1. ``Profile.from_path`` (reading the file into the call tree);
2. ``stax top``, ``stax collapse`` and ``stax flamegraph`` in-process (samples/s);
3. ``stax top`` as a process, and the interpreter start with imports alone (``stax --version``).
The figure to compare is ``perf report --stdio`` at ~265k samples/s on this class of
machine (bench_foundation.py measures perf side by side on a real recording).

Not a test: it never fails because the machine was slow.  Run from the repo root:
    .venv/bin/python bench/bench_render.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for tests.render.synthetic_recording

from stax.analysis.profile import Profile  # noqa: E402
from stax.cli.app import run  # noqa: E402
from tests.render.synthetic_recording import write_recording  # noqa: E402

SAMPLES = 200_000
STAX = str(Path(sys.executable).parent / "stax")


def big_recording(path: Path, mangled: bool = False) -> Path:
    """200k samples over ~5,000 distinct stacks 8-16 frames deep, in 4 threads; with ``mangled``
    every function has a C++ (Itanium) name, ``bench::NAME(int, char const*)``, that each view
    demangles (about 1,270 distinct names)."""
    stacks = []
    for i in range(5_000):
        depth = 8 + i % 9
        frames = ["main", f"phase{i % 4}"] + [f"mod{(i >> k) % 40}_fn{k}" for k in range(depth - 3)]
        frames.append(f"leaf{i % 700}")
        stacks.append((";".join(frames), SAMPLES // 5_000, 101 + i % 4))
    threads = {100: "bench", 101: "w1", 102: "w2", 103: "w3", 104: "w4"}
    names = {name for folded, _, _ in stacks for name in folded.split(";")}
    rename = {name: f"_ZN5bench{len(name)}{name}EiPKc" for name in names} if mangled else None
    return write_recording(path, stacks, threads=threads, rename=rename)


def best_of(times: int, action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def quiet(*argv: str) -> None:
    """Run a stax command in this process, its output thrown away."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if run(list(argv)) != 0:
            raise RuntimeError(f"stax {' '.join(argv)} failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mangled", action="store_true",
                        help="name every function with a C++ mangled name (the views demangle them)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="stax-bench-render-"))
    try:
        rec = big_recording(tmp / "big.stax", args.mangled)
        svg = tmp / "big.svg"
        t_profile = best_of(args.repeat, lambda: Profile.from_path(rec))
        t_top = best_of(args.repeat, lambda: quiet("top", str(rec)))
        t_collapse = best_of(args.repeat, lambda: quiet("collapse", str(rec)))
        t_flame = best_of(args.repeat, lambda: quiet("flamegraph", str(rec), "-o", str(svg)))
        t_exe = best_of(args.repeat, lambda: subprocess.run([STAX, "top", str(rec)], check=True,
                                                            capture_output=True))
        t_exe_empty = best_of(args.repeat, lambda: subprocess.run([STAX, "--version"], check=True,
                                                                  capture_output=True))
        profile = Profile.from_path(rec)
        results = {
            "samples": SAMPLES, "distinct_stacks": len(profile.leaf_nodes), "tree_nodes": profile.node_count,
            "profile_from_path_s": t_profile, "top_s": t_top, "collapse_s": t_collapse,
            "flamegraph_s": t_flame, "flamegraph_bytes": svg.stat().st_size,
            "top_process_s": t_exe, "interpreter_and_imports_s": t_exe_empty,
            "top_samples_per_s": SAMPLES / t_top, "collapse_samples_per_s": SAMPLES / t_collapse,
            "flamegraph_samples_per_s": SAMPLES / t_flame, "top_process_samples_per_s": SAMPLES / t_exe,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    r = results
    print(f"{SAMPLES:,} samples, {r['distinct_stacks']:,} distinct stacks, {r['tree_nodes']:,} tree nodes"
          + (", C++ mangled names" if args.mangled else ""))
    print(f"  Profile.from_path    {t_profile * 1e3:7.1f} ms")
    print(f"  stax top (in-proc)   {t_top * 1e3:7.1f} ms  {r['top_samples_per_s']:12,.0f} samples/s")
    print(f"  stax collapse        {t_collapse * 1e3:7.1f} ms"
          f"  {r['collapse_samples_per_s']:12,.0f} samples/s")
    print(f"  stax flamegraph      {t_flame * 1e3:7.1f} ms  {r['flamegraph_samples_per_s']:12,.0f} samples/s"
          f"  ({r['flamegraph_bytes'] / 1024:,.0f} KiB)")
    print(f"  stax top (process)   {t_exe * 1e3:7.1f} ms  {r['top_process_samples_per_s']:12,.0f} samples/s"
          f"  (interpreter start + imports alone: {t_exe_empty * 1e3:.0f} ms)")
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    name = "render-mangled.json" if args.mangled else "render.json"
    (out / name).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
