"""DWARF call-graph benchmark: ``stax record --call-graph dwarf`` vs ``perf record --call-graph dwarf``.

Figures (issue 6), per workload (the 3:1 qsort workload of tests/backend_linux/dwarf_callgraph, built
-O2 -fomit-frame-pointer, and Debian's python3 running a pure-Python loop):

1. unwinding speed: stax's unwind pass (samples / CPU s, measured inside the pass, cold:
   the first pass parses every file's CFI) vs perf's DWARF post-processing:
   ``perf report --stdio --no-children -g caller`` on the perf.data of the same work
   (samples / CPU s of perf report), and the same with ``-g none`` subtracted, which
   leaves perf's unwinding alone;
2. bytes per sample: the ring record (what the kernel writes), stax's spool (filled stack
   bytes only, deleted after the recording), the .stax file, perf.data;
3. capture overhead: CPU seconds of the whole profiled run (target + recorder, stax with
   --no-symbolicate and its unwind pass subtracted) over the unprofiled run, stax vs perf.

Not a test: it never fails because the machine was slow.
    .venv/bin/python bench/bench_dwarf.py [--seconds 4] [--repeat 3] [--freq 999]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAX = str(REPO / ".venv" / "bin" / "stax")
# fixed work (not a fixed time), so that CPU seconds compare
PYTHON_LOOP = "x = 0\nfor i in range({iterations}):\n    x += i\n"


def cpu_time_of(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; (CPU seconds of it and its reaped descendants, wall seconds)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed")
    return usage.ru_utime + usage.ru_stime, wall


def best_of(n: int, fn):  # noqa: ANN001, ANN201 - a tiny local helper
    return min((fn() for _ in range(n)), key=lambda r: r[0])


def meta(rec: Path) -> dict[str, object]:
    db = sqlite3.connect(rec)
    try:
        return {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}
    finally:
        db.close()


def perf_sample_count(data: Path) -> int:
    out = subprocess.run(["perf", "script", "-i", str(data), "-F", "tid"], capture_output=True,
                         text=True).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def bench_workload(name: str, workload: list[str], tmp: Path, args: argparse.Namespace) -> dict[str, object]:
    freq = str(args.freq)
    # perf record without -q: perf 6.1 exits 1 with -q even when it recorded
    base, _ = best_of(args.repeat, lambda: cpu_time_of(workload))
    data = tmp / f"{name}.data"
    perf_cpu, _ = best_of(args.repeat, lambda: cpu_time_of(
        ["perf", "record", "-B", "-N", "-F", freq, "--call-graph", "dwarf", "-o", str(data), "--",
         *workload]))
    rec = tmp / f"{name}.stax"
    runs = []
    for _ in range(args.repeat):
        cpu, _wall = cpu_time_of([STAX, "record", "-q", "--no-off-cpu", "--no-symbolicate", "-F", freq,
                                  "--call-graph", "dwarf", "-o", str(rec), "--", *workload])
        m = meta(rec)
        runs.append((cpu - float(m["backend.dwarf_unwind_cpu_s"]), cpu, m))  # type: ignore[arg-type]
    stax_capture_cpu, stax_total_cpu, m = min(runs, key=lambda r: r[0])
    n_stax = int(m["backend.dwarf_unwound"])  # type: ignore[arg-type]
    unwind_s = float(m["backend.dwarf_unwind_cpu_s"])  # type: ignore[arg-type]

    n_perf = perf_sample_count(data)
    report_cpu, _ = best_of(args.repeat, lambda: cpu_time_of(
        ["perf", "report", "-i", str(data), "--stdio", "--no-children", "-g", "caller"]))
    report_none_cpu, _ = best_of(args.repeat, lambda: cpu_time_of(
        ["perf", "report", "-i", str(data), "--stdio", "--no-children", "-g", "none"]))
    perf_unwind_cpu = max(report_cpu - report_none_cpu, 1e-6)
    stack_size = int(m["backend.dwarf_stack_size"])  # type: ignore[arg-type]
    regs = bin(int(m["backend.dwarf_regs_mask"])).count("1")  # type: ignore[arg-type]
    return {
        "workload": " ".join(workload)[:80],
        "unprofiled_cpu_s": base,
        "stax_samples": n_stax,
        "perf_samples": n_perf,
        "stax_unwind_cpu_s": unwind_s,
        "stax_unwind_samples_per_s": n_stax / max(unwind_s, 1e-6),
        "stax_truncated": m["backend.dwarf_truncated"],
        "perf_report_cpu_s": report_cpu,
        "perf_report_samples_per_s": n_perf / report_cpu,
        "perf_report_no_callchain_cpu_s": report_none_cpu,
        "perf_unwind_only_samples_per_s": n_perf / perf_unwind_cpu,
        # the sample record's REGS_USER + STACK_USER part: abi, regs, size, data[size], dyn_size
        "ring_bytes_per_sample_dwarf_part": 8 + 8 * regs + 8 + stack_size + 8,
        "stax_spool_bytes_per_sample": int(m["backend.dwarf_spool_bytes"]) / max(n_stax, 1),  # type: ignore[arg-type]
        "stax_file_bytes_per_sample": rec.stat().st_size / max(n_stax, 1),
        "stax_file_bytes": rec.stat().st_size,
        "perf_data_bytes_per_sample": data.stat().st_size / max(n_perf, 1),
        "perf_data_bytes": data.stat().st_size,
        "perf_capture_cpu_s": perf_cpu,
        "stax_capture_cpu_s": stax_capture_cpu,
        "stax_total_cpu_s": stax_total_cpu,
        "perf_capture_overhead": perf_cpu / base,
        "stax_capture_overhead": stax_capture_cpu / base,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each workload")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--freq", type=int, default=999)
    args = parser.parse_args()
    if not shutil.which("perf"):
        raise SystemExit("bench: perf is not installed (apt-get install linux-perf)")
    tmp = Path(tempfile.mkdtemp(prefix="stax-bench-dwarf-"))
    try:
        exe = tmp / "qsort_split"
        source = REPO / "tests/backend_linux/dwarf_callgraph/workloads/qsort_split.c"
        subprocess.run(["gcc", "-O2", "-fomit-frame-pointer", "-o", str(exe), str(source)], check=True)
        python = sys.executable  # the interpreter running the bench (Debian's python3: no frame pointers)
        cpu, _ = cpu_time_of([str(exe), "0", "50"])
        rounds = max(50, int(50 * args.seconds / max(cpu, 1e-3)))
        cpu, _ = cpu_time_of([python, "-c", PYTHON_LOOP.format(iterations=2_000_000)])
        iterations = max(2_000_000, int(2_000_000 * args.seconds / max(cpu, 1e-3)))
        workloads = {
            "qsort": [str(exe), "0", str(rounds)],
            "python": [python, "-c", PYTHON_LOOP.format(iterations=iterations)],
        }
        results = {name: bench_workload(name, cmd, tmp, args) for name, cmd in workloads.items()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name, r in results.items():
        print(f"== {name}: {r['workload']!r}")
        print(f"unwind pass          stax {r['stax_unwind_samples_per_s']:,.0f} samples/s "
              f"({r['stax_samples']} samples, {r['stax_unwind_cpu_s']:.3f} s CPU, "
              f"{r['stax_truncated']} truncated)")
        print(f"                     perf report -g caller {r['perf_report_samples_per_s']:,.0f} samples/s "
              f"({r['perf_samples']} samples, {r['perf_report_cpu_s']:.2f} s CPU); "
              f"unwinding alone (minus -g none) {r['perf_unwind_only_samples_per_s']:,.0f} samples/s")
        print(f"                     ratio stax/perf report {r['stax_unwind_samples_per_s'] / r['perf_report_samples_per_s']:.1f}x, "  # noqa: E501
              f"stax/perf unwinding alone "
              f"{r['stax_unwind_samples_per_s'] / r['perf_unwind_only_samples_per_s']:.1f}x")
        print(f"bytes per sample     ring (regs+stack part) {r['ring_bytes_per_sample_dwarf_part']}   "
              f"stax spool {r['stax_spool_bytes_per_sample']:.0f}   "
              f".stax {r['stax_file_bytes_per_sample']:.0f}   "
              f"perf.data {r['perf_data_bytes_per_sample']:.0f}")
        print(f"recording size       .stax {r['stax_file_bytes'] / 1e6:.2f} MB   "
              f"perf.data {r['perf_data_bytes'] / 1e6:.2f} MB")
        print(f"capture CPU          unprofiled {r['unprofiled_cpu_s']:.2f} s   "
              f"perf {r['perf_capture_cpu_s']:.2f} s "
              f"({r['perf_capture_overhead']:.3f}x)   stax {r['stax_capture_cpu_s']:.2f} s "
              f"({r['stax_capture_overhead']:.3f}x; {r['stax_total_cpu_s']:.2f} s with the unwind pass)   "
              f"stax/perf {r['stax_capture_cpu_s'] / r['perf_capture_cpu_s']:.3f}")
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "dwarf.json").write_text(json.dumps(results, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
