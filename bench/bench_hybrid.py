"""Hybrid unwinding benchmark (issue 10 items 1, 2): ``stax record`` (``--call-graph fp``, the default)
vs ``perf record -g`` on tests/backend_linux/unwind/hybrid/leaf_callers.c.

The workload spends equal, known times in fill_pages() -> memset, count_len() -> strlen
(on the CPU), sleep_wait() -> nanosleep and read_wait() -> read (off the CPU); glibc has
no frame pointers, so a pure frame-pointer walk skips every one of those callers.
Figures, in one run:

1. per stack-copy size (128, 256, 512, 1024 B; 512 is the default): stacks looked at,
   suspect (leaf without its frame pointer set up), repaired, not repaired, the repaired
   ratio of the suspect ones, and the four callers' shares (true share 50% each);
   ``--call-graph dwarf`` and ``fp-only`` beside;
2. perf's figure on the same program: ``perf record -g`` (cpu-clock 999 Hz) share of the
   on-CPU callers in leafmain's samples, and ``perf record -e cs -c 1 -g`` share of the
   off-CPU callers in leafmain's switch-out stacks (perf counts switches, not time);
3. capture CPU at 999 Hz (CPU seconds of the profiled run, recorder included, over the
   unprofiled run; stax with --no-symbolicate): stax hybrid with and without off-CPU,
   stax fp-only, perf -g;
4. bytes per sample: the ring's dump part (regs + copy), .stax and perf.data per sample.

Not a test: it never fails because the machine was slow.
    .venv/bin/python bench/bench_hybrid.py [--phase-ms 1000] [--repeat 1]
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

from bench_dwarf import meta  # the recording's meta table as JSON values (bench/ is on sys.path)
from bench_env import STAX_ENV, warm_up

REPO = Path(__file__).resolve().parent.parent
STAX = str(REPO / ".venv" / "bin" / "stax")
SOURCE = REPO / "tests" / "backend_linux" / "unwind" / "hybrid" / "leaf_callers.c"
ON_CPU = ("fill_pages", "count_len")
OFF_CPU = ("sleep_wait", "read_wait")
SIZES = (128, 256, 512, 1024)


def cpu_time_of(cmd: list[str]) -> float:
    """CPU seconds of ``cmd`` and its reaped descendants."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=STAX_ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # perf 6.x may exit 1 after recording
        raise SystemExit(f"bench: {' '.join(cmd)} failed")
    return usage.ru_utime + usage.ru_stime


def stax_shares(rec: Path, callers: tuple[str, ...], *flags: str) -> dict[str, float]:
    """Share of leafmain's samples (or blocked ns with --off-cpu) whose stack holds each caller."""
    text = subprocess.run(
        [STAX, "collapse", "--per-thread", *flags, str(rec)], capture_output=True, text=True, check=True
    ).stdout
    total = 0
    found = dict.fromkeys(callers, 0)
    for line in text.splitlines():
        stack, _, weight = line.rpartition(" ")
        frames = stack.split(";")
        if not frames[0].startswith("leafmain-"):
            continue
        total += int(weight)
        for name in callers:
            if name in frames:
                found[name] += int(weight)
    return {name: count / max(total, 1) for name, count in found.items()}


def perf_shares(data: Path, callers: tuple[str, ...]) -> dict[str, float]:
    """Share of leafmain's perf samples whose callchain names each caller (perf script)."""
    text = subprocess.run(
        ["perf", "script", "-i", str(data), "-F", "comm,tid,ip,sym"], capture_output=True, text=True
    ).stdout
    total = 0
    found = dict.fromkeys(callers, 0)
    for block in text.split("\n\n"):
        lines = block.strip().splitlines()
        if not lines or not lines[0].strip().startswith("leafmain"):
            continue
        total += 1
        names = {line.split()[1] if len(line.split()) > 1 else "" for line in lines[1:]}
        for name in callers:
            if name in names:
                found[name] += 1
    return {name: count / max(total, 1) for name, count in found.items()}


def record(program: str, phase: str, out: Path, *flags: str) -> tuple[dict[str, object], str]:
    proc = subprocess.run(
        [STAX, "record", *flags, "-o", str(out), "--", program, phase], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"bench: stax record {' '.join(flags)} failed:\n{proc.stderr}")
    return meta(out), proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phase-ms", default="1000")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--freq", default="999")
    args = parser.parse_args()
    if os.geteuid() != 0 or not shutil.which("perf"):
        raise SystemExit("bench: run as root with perf installed")
    tmp = Path(tempfile.mkdtemp(prefix="stax-bench-hybrid-"))
    program = str(tmp / "leaf_callers")
    subprocess.run(
        ["gcc", "-O2", "-g", "-fno-omit-frame-pointer", "-pthread", "-o", program, str(SOURCE)], check=True
    )
    phase = args.phase_ms
    results: dict[str, object] = {"uptime": os.getloadavg()}
    print(f"load average {os.getloadavg()}")

    print("\n1. repaired stacks and callers' shares by stack-copy size (true share 50% each)")
    print(
        f"{'mode':>14} {'stacks':>7} {'suspect':>7} {'repaired':>8} {'not':>5} {'ratio':>6}  "
        f"{'fill_pages':>10} {'count_len':>9} {'sleep_wait':>10} {'read_wait':>9}  .stax B/sample  unwind s"
    )
    rows = {}
    for mode in [f"fp,{size}" for size in SIZES] + ["dwarf", "fp-only"]:
        rec = tmp / f"{mode.replace(',', '_')}.stax"
        m, _ = record(program, phase, rec, f"--call-graph={mode}", "-F", args.freq)
        on = stax_shares(rec, ON_CPU)
        off = stax_shares(rec, OFF_CPU, "--off-cpu")
        samples = int(m.get("sample_count", 0) or 0) or 1  # type: ignore[arg-type]
        row = {
            "stacks": m.get("backend.hybrid_stacks", "-"),
            "suspect": m.get("backend.hybrid_checked", "-"),
            "repaired": m.get("backend.hybrid_repaired", "-"),
            "unrepaired": m.get("backend.hybrid_unrepaired", "-"),
            "stop_reasons": m.get("backend.dwarf_stop_reasons"),
            **on,
            **off,
            "stax_bytes_per_sample": rec.stat().st_size / samples,
            "spool_bytes_per_stack": int(m.get("backend.dwarf_spool_bytes", 0) or 0)  # type: ignore[arg-type]
            / max(int(m.get("backend.dwarf_samples", 0) or 0), 1),  # type: ignore[arg-type]
            "post_capture_s": m.get("backend.post_capture_s"),
            "unwind_cpu_s": m.get("backend.dwarf_unwind_cpu_s"),
        }
        checked = row["suspect"]
        ratio = f"{row['repaired'] / checked:.1%}" if isinstance(checked, int) and checked else "-"  # type: ignore[operator]
        print(
            f"{mode:>14} {row['stacks']!s:>7} {row['suspect']!s:>7} {row['repaired']!s:>8} "
            f"{row['unrepaired']!s:>5} {ratio:>6}  {on['fill_pages']:>10.1%} {on['count_len']:>9.1%} "
            f"{off['sleep_wait']:>10.1%} {off['read_wait']:>9.1%}  {row['stax_bytes_per_sample']:>14.0f}  "
            f"{row['unwind_cpu_s']}"
        )
        rows[mode] = row
    results["modes"] = rows

    data = tmp / "perf.data"
    subprocess.run(
        ["perf", "record", "-g", "-F", args.freq, "-o", str(data), "--", program, phase], capture_output=True
    )
    perf_on = perf_shares(data, ON_CPU)
    cs = tmp / "perf-cs.data"
    subprocess.run(
        ["perf", "record", "-e", "cs", "-c", "1", "-g", "-o", str(cs), "--", program, phase],
        capture_output=True,
    )
    perf_off = perf_shares(cs, OFF_CPU)
    n_perf = sum(
        1
        for line in subprocess.run(
            ["perf", "script", "-i", str(data), "-F", "tid"], capture_output=True, text=True
        ).stdout.splitlines()
        if line.strip()
    )
    print(
        f"{'perf -g':>14} {'':>7} {'':>7} {'':>8} {'':>5} {'':>6}  {perf_on['fill_pages']:>10.1%} "
        f"{perf_on['count_len']:>9.1%} {perf_off['sleep_wait']:>10.1%} {perf_off['read_wait']:>9.1%}  "
        f"{data.stat().st_size / max(n_perf, 1):.0f}   (off-CPU: -e cs -c 1 -g, share of switches)"
    )
    results["perf"] = {
        **perf_on,
        **perf_off,
        "perf_data_bytes_per_sample": data.stat().st_size / max(n_perf, 1),
    }

    print(f"\n2. capture CPU at {args.freq} Hz, profiled / unprofiled (best of {args.repeat})")
    warm_up(STAX)
    base = min(cpu_time_of([program, phase]) for _ in range(args.repeat))
    runs = {
        "stax (fp hybrid, off-CPU on: the default)": [
            STAX,
            "record",
            "-q",
            "--no-symbolicate",
            "-F",
            args.freq,
            "-o",
            str(tmp / "c1.stax"),
            "--",
            program,
            phase,
        ],
        "stax fp hybrid --no-off-cpu": [
            STAX,
            "record",
            "-q",
            "--no-symbolicate",
            "--no-off-cpu",
            "-F",
            args.freq,
            "-o",
            str(tmp / "c2.stax"),
            "--",
            program,
            phase,
        ],
        "stax fp-only --no-off-cpu": [
            STAX,
            "record",
            "-q",
            "--no-symbolicate",
            "--no-off-cpu",
            "--call-graph=fp-only",
            "-F",
            args.freq,
            "-o",
            str(tmp / "c3.stax"),
            "--",
            program,
            phase,
        ],
        "perf record -g": [
            "perf",
            "record",
            "-g",
            "-F",
            args.freq,
            "-o",
            str(tmp / "c.data"),
            "--",
            program,
            phase,
        ],
    }
    ratios = {}
    for name, cmd in runs.items():
        cpu = min(cpu_time_of(cmd) for _ in range(args.repeat))
        ratios[name] = cpu / base
        print(f"  {name:<44} {cpu:6.2f} CPU s  {cpu / base:5.2f}x")
    results["capture_cpu_ratio"] = ratios
    results["unprofiled_cpu_s"] = base
    print(
        "\n3. the ring's dump part per sample (abi, ip/sp/bp, size, copy, dyn_size): "
        + ", ".join(f"{size} B copy -> {8 + 24 + 8 + size + 8} B" for size in SIZES)
    )
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / f"hybrid-{int(time.time())}.json").write_text(json.dumps(results, indent=1, default=str))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
