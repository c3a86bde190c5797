"""``stax import perf.data`` throughput (samples/s) vs ``perf report`` on the same perf.data.

Records examples/hotspots.c with ``perf record -g -F FREQ`` (frame-pointer callchains,
cpu-clock), then times, each the best of ``--repeat`` runs:
1. ``stax import`` end to end (decode, time order, write, symbolicate, the other passes),
   as a process and in this process (without the interpreter's start);
2. ``stax import --no-symbolicate`` in this process (the decoder and the recording writer);
3. ``stax top`` on the imported file, and import + top together (what replaces a report);
4. ``perf report --stdio --no-children --sort sym`` and ``perf report --stdio`` (with
   callchains, perf's default) on the same file.
Samples/s is perf's own sample count over each time.  ``perf record -g`` (per task)
stores IP|TID|TIME|CALLCHAIN|PERIOD, ``-a`` adds CPU and IDENTIFIER; both go through
fast_stream.c's rounds (the compiled scan reads each event's layout from its attr), which
the recording's ``import.decoder`` says.  The process's start (interpreter, plugins) is a
fixed cost perf report does not pay, so the bench also prints the file size (in samples)
from which ``stax import`` end to end takes less time than ``perf report --sort sym``.

Not a test: it never fails because the machine was slow.  Run as root from the repo root:
    .venv/bin/python bench/bench_import.py [--seconds 5] [--freq 20000] [--repeat 3] [--system-wide]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for bench.bench_render's helpers

from bench.bench_render import best_of  # noqa: E402
from bench.bench_render import quiet as in_process  # noqa: E402

STAX = str(Path(sys.executable).parent / "stax")


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), check=True, capture_output=True, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--freq", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--system-wide", action="store_true", help="perf record -a (stax record's layout)")
    args = parser.parse_args()
    perf = shutil.which("perf")
    if perf is None:
        sys.exit("perf is required (apt-get install linux-perf)")
    tmp = Path(tempfile.mkdtemp(prefix="stax-bench-import-"))
    try:
        exe = tmp / "hotspots"
        run(
            "gcc",
            "-O1",
            "-g",
            "-fno-omit-frame-pointer",
            "-o",
            str(exe),
            str(REPO / "examples" / "hotspots.c"),
        )
        data = tmp / "perf.data"
        wide = ["-a"] if args.system_wide else []
        run(
            perf,
            "record",
            "-q",
            *wide,
            "-g",
            "-F",
            str(args.freq),
            "-o",
            str(data),
            "--",
            str(exe),
            str(args.seconds),
        )
        samples = len(run(perf, "script", "-F", "tid", "-i", str(data)).stdout.splitlines())
        rec = tmp / "rec.stax"
        env_note = os.getloadavg()
        uptime = run("uptime").stdout.strip()
        t_import = best_of(args.repeat, lambda: run(STAX, "import", "-q", str(data), "-o", str(rec)))
        t_import_in = best_of(args.repeat, lambda: in_process("import", "-q", str(data), "-o", str(rec)))
        t_import_raw = best_of(
            args.repeat,
            lambda: in_process("import", "-q", "--no-symbolicate", str(data), "-o", str(tmp / "raw.stax")),
        )
        t_top = best_of(args.repeat, lambda: run(STAX, "top", str(rec)))
        t_version = best_of(args.repeat, lambda: run(STAX, "--version"))
        t_report_sym = best_of(
            args.repeat,
            lambda: run(perf, "report", "--stdio", "--no-children", "--sort", "sym", "-i", str(data)),
        )
        t_report = best_of(args.repeat, lambda: run(perf, "report", "--stdio", "-i", str(data)))
        decoder = json.loads(run("sqlite3", str(rec), "SELECT value FROM meta WHERE key = 'import.decoder'")
                             .stdout or "null")
        results = {
            "samples": samples,
            "decoder": decoder,
            "uptime": uptime,
            "perf_data_bytes": data.stat().st_size,
            "stax_bytes": rec.stat().st_size,
            "system_wide": args.system_wide,
            "freq": args.freq,
            "load_average": env_note,
            "import_s": t_import,
            "import_in_process_s": t_import_in,
            "import_no_symbolicate_s": t_import_raw,
            "top_s": t_top,
            "interpreter_start_s": t_version,
            "perf_report_sort_sym_s": t_report_sym,
            "perf_report_s": t_report,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def rate(seconds: float) -> str:
        return f"{seconds * 1e3:8.0f} ms  {samples / seconds:12,.0f} samples/s"

    r = results
    print(
        f"{samples:,} samples ({'-a' if args.system_wide else 'per task'}, -F {args.freq}); perf.data "
        f"{r['perf_data_bytes'] / 1e6:.1f} MB -> .stax {r['stax_bytes'] / 1e6:.1f} MB; "
        f"load average {env_note[0]:.1f}"
    )
    print(f"  stax import                    {rate(t_import)}")
    print(f"  stax import (in process)       {rate(t_import_in)}")
    print(f"  ... --no-symbolicate           {rate(t_import_raw)}")
    print(f"  stax top (imported file)       {rate(t_top)}")
    print(f"  stax import + stax top         {rate(t_import + t_top)}")
    print(f"  perf report --sort sym         {rate(t_report_sym)}")
    print(f"  perf report (callchains)       {rate(t_report)}")
    print(f"  stax --version (interpreter start alone: {t_version * 1e3:.0f} ms)")
    start = t_import - t_import_in  # the process's start: interpreter, plugins, imports
    per_sample_gain = t_report_sym / samples - t_import_in / samples
    if per_sample_gain > 0:
        print(f"  import.decoder: {decoder}; start-up {start * 1e3:.0f} ms: stax import end to end beats "
              f"perf report --sort sym from ~{start / per_sample_gain:,.0f} samples")
    else:
        print(f"  import.decoder: {decoder}; in process slower than perf report --sort sym per sample")
    print(f"  uptime: {uptime}")
    print(
        f"  import / perf report --sort sym: {t_import / t_report_sym:.2f}x the time "
        f"({t_import_in / t_report_sym:.2f}x in process)"
    )
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "import.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
