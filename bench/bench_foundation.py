"""Foundation benchmarks: stax vs perf on the same CPU-bound work, printed as ratios.

Figures (issue: foundation):
1. capture overhead — total CPU time (target + profiler, user + sys) of a fixed amount
   of work, profiled at 999 Hz, divided by the unprofiled CPU time; for stax and for
   `perf record -g`.
2. post-processing throughput — samples per second of wall time for `stax top` on a
   .stax file vs `perf report --stdio` on a perf.data of the same workload and rate.
3. bytes per sample — recording size / samples, .stax vs perf.data.
4. lost samples at 999 Hz.

Not a test: it never fails because the machine was slow.  Run as root:
    .venv/bin/python bench/bench_foundation.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAX = [str(REPO / ".venv" / "bin" / "stax")]


def cpu_time_of(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run ``cmd``; return (CPU seconds of it and all its reaped descendants, wall seconds)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} exited with {proc.returncode}")
    return usage.ru_utime + usage.ru_stime, wall


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def best_of(n: int, fn):
    return min((fn() for _ in range(n)), key=lambda r: r[0] if isinstance(r, tuple) else r)


def perf_samples(data: Path) -> int:
    out = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--no-children",
                          "--sort", "pid"], capture_output=True, text=True).stdout
    m = re.search(r"# Samples: (\d+)([KM]?)", out)
    if not m:
        return 0
    return int(m.group(1)) * {"": 1, "K": 1000, "M": 1_000_000}[m.group(2)]


def stax_samples(rec: Path) -> int:
    """Samples in a recording of schema 2 or later: the block headers' counts (no decoding)."""
    return sqlite3.connect(rec).execute("SELECT sum(count) FROM sample_blocks").fetchone()[0]


def stax_events(rec: Path) -> tuple[int, int]:
    """(off-CPU spans, wakeups) in a schema-3 recording: the block headers' counts."""
    db = sqlite3.connect(rec)
    return tuple(db.execute(f"SELECT coalesce(sum(count), 0) FROM {t}").fetchone()[0]
                 for t in ("span_blocks", "wakeup_blocks"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the fixed work")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pp-freq", type=int, default=20000,
                        help="sampling rate for the post-processing recordings")
    args = parser.parse_args()
    if not shutil.which("perf"):
        raise SystemExit("bench: perf is not installed (apt-get install linux-perf)")

    tmp = Path(tempfile.mkdtemp(prefix="stax-bench-"))
    work = tmp / "hotspots"
    subprocess.run(["gcc", "-O1", "-g", "-fno-omit-frame-pointer", "-o", str(work),
                    str(REPO / "examples" / "hotspots.c")], check=True)
    # calibrate: rounds for ~args.seconds of CPU
    cpu, _ = cpu_time_of([str(work), "-n", "200"])
    rounds = max(200, int(200 * args.seconds / max(cpu, 1e-3)))
    workload = [str(work), "-n", str(rounds)]

    results: dict[str, object] = {"rounds": rounds}
    base, _ = best_of(args.repeat, lambda: cpu_time_of(workload))
    perf_cpu, _ = best_of(args.repeat, lambda: cpu_time_of(
        ["perf", "record", "-q", "-F", "999", "-g", "-o", str(tmp / "o.data"), "--", *workload]))
    stax_cpu, _ = best_of(args.repeat, lambda: cpu_time_of(
        [*STAX, "record", "-q", "-F", "999", "-o", str(tmp / "o.stax"), "--", *workload]))
    lost = json.loads(sqlite3.connect(tmp / "o.stax").execute(
        "SELECT value FROM meta WHERE key='lost_records'").fetchone()[0])
    spans, wakeups = stax_events(tmp / "o.stax")
    results.update(stax_spans_at_999hz=spans, stax_wakeups_at_999hz=wakeups)
    results.update(unprofiled_cpu_s=base, perf_cpu_s=perf_cpu, stax_cpu_s=stax_cpu,
                   perf_overhead=perf_cpu / base, stax_overhead=stax_cpu / base,
                   stax_lost_at_999hz=lost, stax_samples_at_999hz=stax_samples(tmp / "o.stax"),
                   perf_bytes_per_sample_at_999hz=(tmp / "o.data").stat().st_size
                   / max(perf_samples(tmp / "o.data"), 1),
                   stax_bytes_per_sample_at_999hz=(tmp / "o.stax").stat().st_size
                   / max(stax_samples(tmp / "o.stax"), 1))

    # post-processing on bigger recordings of the same work and rate
    pdata, srec = tmp / "pp.data", tmp / "pp.stax"
    subprocess.run(["perf", "record", "-q", "-F", str(args.pp_freq), "-g", "-o", str(pdata),
                    "--", *workload], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([*STAX, "record", "-q", "-F", str(args.pp_freq), "-o", str(srec), "--",
                    *workload], check=True, stdout=subprocess.DEVNULL)
    n_perf, n_stax = perf_samples(pdata), stax_samples(srec)
    t_perf = best_of(args.repeat, lambda: timed(
        ["perf", "report", "-i", str(pdata), "--stdio", "--no-children"]))
    t_stax = best_of(args.repeat, lambda: timed([*STAX, "top", str(srec), "-n", "20"]))
    t_stax_collapse = best_of(args.repeat, lambda: timed([*STAX, "collapse", str(srec),
                                                          "-o", str(tmp / "c.folded")]))
    results.update(
        pp_perf_samples=n_perf, pp_stax_samples=n_stax,
        perf_report_s=t_perf, stax_top_s=t_stax, stax_collapse_s=t_stax_collapse,
        perf_report_samples_per_s=n_perf / t_perf, stax_top_samples_per_s=n_stax / t_stax,
        stax_collapse_samples_per_s=n_stax / t_stax_collapse,
        perf_bytes_per_sample=pdata.stat().st_size / max(n_perf, 1),
        stax_bytes_per_sample=srec.stat().st_size / max(n_stax, 1),
    )

    r = results
    print(f"workload: examples/hotspots.c -n {rounds} ({base:.2f} s CPU unprofiled)")
    print(f"capture overhead @999 Hz   perf {r['perf_overhead']:.3f}x   stax {r['stax_overhead']:.3f}x"
          f"   (stax/perf {r['stax_cpu_s'] / r['perf_cpu_s']:.3f})")
    print(f"lost records @999 Hz       stax {lost} of {r['stax_samples_at_999hz']} samples")
    print(f"post-processing            perf report {r['perf_report_samples_per_s']:,.0f} samples/s"
          f" ({n_perf} samples)   stax top {r['stax_top_samples_per_s']:,.0f} samples/s ({n_stax})"
          f"   ratio {r['stax_top_samples_per_s'] / r['perf_report_samples_per_s']:.2f}x")
    print(f"                           stax collapse {r['stax_collapse_samples_per_s']:,.0f} samples/s")
    print(f"bytes per sample           perf.data {r['perf_bytes_per_sample']:.1f}"
          f"   .stax {r['stax_bytes_per_sample']:.1f}"
          f"   ratio {r['stax_bytes_per_sample'] / r['perf_bytes_per_sample']:.2f}"
          f"   ({args.pp_freq} Hz recordings)")
    print(f"bytes per sample @999 Hz   perf.data {r['perf_bytes_per_sample_at_999hz']:.1f}"
          f"   .stax {r['stax_bytes_per_sample_at_999hz']:.1f}"
          f"   ratio {r['stax_bytes_per_sample_at_999hz'] / r['perf_bytes_per_sample_at_999hz']:.2f}"
          f"   (default recording, off-CPU on: {r['stax_samples_at_999hz']:,} samples, {spans:,} spans,"
          f" {wakeups:,} wakeups; load {os.getloadavg()[0]:.1f})")
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "foundation.json").write_text(json.dumps(results, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
