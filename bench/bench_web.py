"""`stax serve` on a 1M-sample recording: time per view request, and the server's memory.

The recording (synthetic, through the real RecordingBuilder, as bench_render.py does) has
1,000,000 samples over 20,000 distinct stacks 8-24 frames deep in 8 threads, interleaved
in time so the timeline has every thread everywhere.  A real `stax serve` process is
started on it and each request is timed from this process over HTTP (the server's
aggregation plus JSON encoding and transfer), cold (first request of its kind: the
profile is built from SQL) and warm (the session's cache):
1. /api/meta, /api/flame, /api/top, /api/timeline (1,000 buckets);
2. zoom-equivalents: a time range (the timeline selection, a new aggregate from raw
   samples) and a focus on a function (the flame graph re-rooted server-side);
3. the server's resident memory (VmRSS, VmHWM) after all of them.
The figure beside it is `perf report --stdio` on a perf.data of about as many samples,
recorded here with `perf record -e cpu-clock -c PERIOD -g` of tests/web/workloads/shares.c
(skipped with a sentence when perf cannot record).  Browser paint timing is measured by
the UI's own benchmark (tests/web/browser); pass ``--keep DIR`` to keep the recording for it.

Not a test: it never fails because the machine was slow.  Run from the repo root:
    .venv/bin/python bench/bench_web.py [--samples 1000000] [--keep DIR] [--no-perf]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for tests.render.synthetic_recording and tests.web.server

from tests.render.synthetic_recording import write_recording  # noqa: E402
from tests.web.server import serve  # noqa: E402

STACKS = 20_000
THREADS = 8


def big_recording(path: Path, samples: int) -> Path:
    """``samples`` samples over :data:`STACKS` stacks 8-24 frames deep, threads interleaved."""
    shapes = []
    for i in range(STACKS):
        depth = 8 + i % 17
        frames = ["main", f"phase{i % 6}"] + [f"mod{(i >> k) % 50}_fn{k}" for k in range(depth - 3)]
        frames.append(f"leaf{i % 1500}")
        shapes.append(";".join(frames))
    rounds = max(1, samples // STACKS)
    entries = ((shapes[i], 1, 101 + (i + r) % THREADS) for r in range(rounds) for i in range(STACKS))
    threads = {100: "bench", **{101 + t: f"worker{t}" for t in range(THREADS)}}
    return write_recording(path, entries, threads=threads)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(server, path: str) -> tuple[float, float, int]:
    """(wall s, server CPU s, bytes) of one GET: CPU time is what a loaded machine does not inflate."""
    cpu = cpu_seconds(server.proc.pid)
    start = time.perf_counter()
    status, _, body = server.get(path)
    elapsed = time.perf_counter() - start
    assert status == 200, (path, status, body[:300])
    return elapsed, cpu_seconds(server.proc.pid) - cpu, len(body)


def memory(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


def perf_report(work: Path, samples: int) -> dict[str, object]:
    """Record ~``samples`` samples with perf on the shares workload and time `perf report`."""
    perf, gcc = shutil.which("perf"), shutil.which("gcc")
    if not perf or not gcc:
        return {"skipped": "perf or gcc is not installed"}
    exe = work / "shares"
    subprocess.run([gcc, "-O1", "-g", "-fno-omit-frame-pointer", "-o", str(exe),
                    str(REPO / "tests" / "web" / "workloads" / "shares.c")], check=True)
    data = work / "perf.data"
    period_ns = 20_000  # 50k samples per CPU second of one busy thread: ~20 s for 1M on an idle machine
    seconds = samples * period_ns / 1e9
    proc = subprocess.run([perf, "record", "-q", "-e", "cpu-clock", "-c", str(period_ns), "-g",
                           "-o", str(data), "--", str(exe), "3", "1", f"{seconds:.1f}"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return {"skipped": f"perf record failed: {proc.stderr.strip()[:200]}"}
    count = subprocess.run([perf, "report", "-i", str(data), "--stdio", "-n", "--sort", "pid",
                            "--no-children", "-g", "none"], capture_output=True, text=True)
    rows = [line.split() for line in count.stdout.splitlines() if not line.startswith("#")]
    got = sum(int(row[1]) for row in rows if len(row) >= 2 and row[1].isdigit())
    start = time.perf_counter()
    subprocess.run([perf, "report", "-i", str(data), "--stdio"], check=True, capture_output=True)
    t_report = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run([perf, "report", "-i", str(data), "--stdio", "--no-children", "-g", "none"], check=True,
                   capture_output=True)
    t_flat = time.perf_counter() - start
    return {"samples": got, "perf_data_bytes": data.stat().st_size, "report_s": t_report,
            "report_no_callchain_s": t_flat, "report_s_per_1m_samples": t_report * 1e6 / max(1, got)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write the recording here and keep it")
    parser.add_argument("--no-perf", action="store_true", help="skip the perf report comparison")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="stax-bench-web-"))
    results: dict[str, object] = {"uptime": os.getloadavg()}
    try:
        rec = (args.keep or tmp) / "big.stax"
        rec.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        if not rec.exists():
            big_recording(rec, args.samples)
        results["write_s"] = time.perf_counter() - start
        results["recording_bytes"] = rec.stat().st_size
        with serve(str(rec), timeout=600) as server:
            meta_s, meta_cpu, _ = timed(server, "/api/meta")  # waits for the warm-up: meta + flame
            meta = server.api("/api/meta")
            duration = meta["duration_ns"]
            results["samples"] = meta["sample_count"]
            window = f"start={duration // 3}&end={duration // 3 + duration // 10}"
            requests = [
                ("meta", "/api/meta"),
                ("flame cold", "/api/flame"), ("flame warm", "/api/flame"),
                ("flame inverted", "/api/flame?invert=1"),
                ("top", "/api/top?limit=200"),
                ("timeline", "/api/timeline?buckets=1000"),
                ("zoom: time range flame", f"/api/flame?{window}"),
                ("zoom: time range timeline", f"/api/timeline?buckets=1000&{window}"),
                ("zoom: focus phase1", "/api/flame?focus=phase1"),
                ("thread filter flame", "/api/flame?tids=101,102"),
                ("sandwich leaf7", "/api/sandwich?function=leaf7"),
            ]
            timings = {"first answer (after warm-up)": (meta_s, meta_cpu, 0)}
            for name, path in requests:
                timings[name] = timed(server, path)
            flame = server.api("/api/flame")
            results["flame_nodes_sent"] = len(flame["nodes"])
            results["flame_dropped"] = flame["dropped"]
            results["requests"] = {k: {"s": t, "cpu_s": c, "bytes": b} for k, (t, c, b) in timings.items()}
            results["server_cpu_s_total"] = cpu_seconds(server.proc.pid)
            results["server_memory"] = memory(server.proc.pid)
        if not args.no_perf:
            results["perf"] = perf_report(tmp, args.samples)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"stax serve, {results['samples']:,} samples, {STACKS:,} stacks, {THREADS} threads"
          f" ({results['recording_bytes'] / 1e6:.1f} MB .stax); load average {results['uptime']}")
    print(f"  {'request':30s} {'wall':>9s} {'server CPU':>11s} {'answer':>9s}")
    for name, row in results["requests"].items():
        print(f"  {name:30s} {row['s'] * 1e3:6.0f} ms {row['cpu_s'] * 1e3:8.0f} ms"
              f" {row['bytes'] / 1024:6.0f} KiB")
    print(f"  server CPU from start (open, warm-up, every request): {results['server_cpu_s_total']:.2f} s")
    print(f"  flame nodes sent {results['flame_nodes_sent']:,}; left out {results['flame_dropped']}")
    mem = results["server_memory"]
    print(f"  server RSS {mem['VmRSS'] / 2**20:.0f} MiB (peak {mem['VmHWM'] / 2**20:.0f} MiB)")
    perf = results.get("perf")
    if perf and "skipped" not in perf:
        print(f"  perf report --stdio on {perf['samples']:,} samples ({perf['perf_data_bytes'] / 1e6:.0f} MB"
              f" perf.data): {perf['report_s']:.2f} s with call graphs, {perf['report_no_callchain_s']:.2f} s"
              f" without; {perf['report_s_per_1m_samples']:.1f} s per 1M samples with call graphs")
    elif perf:
        print(f"  perf report: {perf['skipped']}")
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "web.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
