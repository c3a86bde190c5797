"""Post-processing benchmark: decode + intern + write of a 10 kHz x 2-CPU recording, vs perf report.

Records two CPU-bound copies of examples/hotspots.c at ``--freq`` (10 kHz) with stax in
this process, keeping the ring bytes of every drain round; then replays those same bytes,
``--repeat`` times each, through
* the compiled path: CompiledStream (fast_stream.c: scan, time order, raw stacks) ->
  RecordingBuilder.consume (intern, rows) -> commit -> finish (post-capture passes
  without symbolication);
* the Python path: RecordDecoder.decode_python -> TimeOrderer -> the same builder;
and times ``perf report --stdio`` on a perf.data of the same workload and rate (``perf
record -F FREQ -g``).  Printed: samples per second of each, by wall time and by CPU time
(this process's, perf report's), best of ``--repeat`` runs, and the ratios; the CPU
figure is the one to compare on a loaded machine, the wall one on a quiet machine.

The capture uses ``--call-graph fp-only`` (the kernel's frame-pointer walk: the issue's
measure); ``--call-graph fp`` (the default recording's hybrid mode) copies each sample's
user registers and stack too, and both replays then run the unwinding stage
(DwarfSampleStream: each distinct copy repaired once) before the builder.

Not a test: it never fails because the machine was slow.  Run as root:
    .venv/bin/python bench/bench_postprocess.py [--seconds 5] [--freq 10000] [--repeat 3]
                                                [--call-graph fp-only|fp]
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
from collections.abc import Callable
from pathlib import Path

from stax.contracts import RecordRequest
from stax.recording.writer import RecordingBuilder
from stax_backend_linux.capture.ring_drainer import RingDrainer
from stax_backend_linux.decode import compiled_stream
from stax_backend_linux.decode.record_decoder import RecordDecoder
from stax_backend_linux.decode.time_order import TimeOrderer
from stax_backend_linux.dwarf_callgraph.stack_sample_stream import DwarfSampleStream
from stax_backend_linux.plugin import LinuxBackend

REPO = Path(__file__).resolve().parent.parent


def capture(command: list[str], freq: int, out: Path, call_graph: str,
            ) -> tuple[list[list[bytes]], RecordDecoder, int]:
    """Record ``command`` in this process; (the rounds' ring chunks, the decoder's setup, samples)."""
    rounds: list[list[bytes]] = []
    take = RingDrainer.take

    def keep_round(self: RingDrainer, *args: int) -> list[bytes]:
        chunks = take(self, *args)
        rounds.append([bytes(c) for c in chunks])
        return chunks

    decoders: list[RecordDecoder] = []
    init = RecordDecoder.__init__

    def keep_decoder(self: RecordDecoder, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)  # type: ignore[arg-type]
        decoders.append(self)

    RingDrainer.take = keep_round  # type: ignore[method-assign]
    RecordDecoder.__init__ = keep_decoder  # type: ignore[method-assign]
    try:
        builder = RecordingBuilder(out)
        summary = LinuxBackend().record(RecordRequest(command=tuple(command), frequency=freq,
                                                      call_graph=call_graph),
                                        builder, lambda progress: None, lambda: False)
        builder.finish(symbolicate=False)
    finally:
        RingDrainer.take = take  # type: ignore[method-assign]
        RecordDecoder.__init__ = init  # type: ignore[method-assign]
    if summary.lost_records:
        print(f"bench: {summary.lost_records} records were lost while capturing", file=sys.stderr)
    return rounds, decoders[0], summary.samples


def fresh_decoder(like: RecordDecoder) -> tuple[RecordDecoder, Callable[[list], list]]:
    """A decoder set up as the capture's, and the unwinding stage its records need (hybrid
    ``fp``: user stack copies), or nothing to do (``fp-only``)."""
    decoder = RecordDecoder(like.build_id_lookup, like.max_stack, identifier=like.identifier)
    if like.dump is None:
        return decoder, lambda events: events
    unwinding = DwarfSampleStream.for_request(RecordRequest(command=("-",), call_graph="fp"), decoder)
    assert unwinding is not None and decoder.dump is not None
    assert decoder.dump.regs_mask == like.dump.regs_mask, "not the capture's user stack copies"
    return decoder, unwinding.process


def _timed(replay):  # noqa: ANN001, ANN202 - a replay function
    """Run ``replay``: (wall seconds, CPU seconds of this process, samples written)."""
    def run(*args: object) -> tuple[float, float, int]:
        cpu, wall = time.process_time(), time.perf_counter()
        samples = replay(*args)
        return time.perf_counter() - wall, time.process_time() - cpu, samples
    return run


@_timed
def replay_compiled(rounds: list[list[bytes]], like: RecordDecoder, out: Path) -> int:
    """Decode, order, intern and write ``rounds`` on the compiled path; samples written."""
    decoder, unwind = fresh_decoder(like)
    stream = compiled_stream.for_decoder(decoder, hybrid=decoder.dump is not None)
    assert stream is not None, "no compiled decoder here"
    builder = RecordingBuilder(out)
    for per_ring in rounds:
        builder.consume(unwind(stream.round([c for c in per_ring if c])))
    builder.consume(unwind(stream.flush()))
    builder.finish(symbolicate=False)
    return builder.sample_count


@_timed
def replay_python(rounds: list[list[bytes]], like: RecordDecoder, out: Path) -> int:
    """The same on the Python path (decode_python, TimeOrderer), objects into the same builder."""
    decoder, unwind = fresh_decoder(like)
    orderer = TimeOrderer()
    builder = RecordingBuilder(out)
    for per_ring in rounds:
        builder.consume(unwind(orderer.round([decoder.decode_python(c) for c in per_ring if c])))
    builder.consume(unwind(orderer.flush()))
    builder.finish(symbolicate=False)
    return builder.sample_count


def recording_contents(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, in order: the two paths must write the same recording
    (tests/backend_linux/decode/test_recording_parity.py holds them to it with these replays)."""
    with sqlite3.connect(path) as db:
        names = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: db.execute(f"SELECT * FROM {name}").fetchall() for name in names}  # noqa: S608


def best(runs: list[tuple[float, float, int]]) -> tuple[float, float, int]:
    """The least wall time and the least CPU time of ``runs`` (each may come from another run)."""
    return min(r[0] for r in runs), min(r[1] for r in runs), runs[0][2]


def perf_report(command: list[str], freq: int, data: Path, repeat: int) -> tuple[float, float, int]:
    """``perf report --stdio`` on a ``perf record -F FREQ -g`` of ``command``: best wall and CPU
    seconds, and the samples."""
    subprocess.run(["perf", "record", "-q", "-F", str(freq), "-g", "-o", str(data), "--", *command],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stats = subprocess.run(["perf", "report", "-i", str(data), "--stats"], capture_output=True,
                           text=True).stdout
    m = re.search(r"SAMPLE events:\s*(\d+)", stats)
    samples = int(m.group(1)) if m else 0
    walls, cpus = [], []
    for _ in range(repeat):
        before, start = os.times(), time.perf_counter()
        subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--no-children"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        after = os.times()
        cpus.append((after.children_user + after.children_system)
                    - (before.children_user + before.children_system))
    return min(walls), min(cpus), samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of work on each of 2 CPUs")
    parser.add_argument("--freq", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--call-graph", choices=("fp-only", "fp"), default="fp-only",
                        help="fp-only: the issue's measure; fp: the default recording's hybrid mode")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root (10 kHz needs no paranoid limit; perf needs it for -g)")
    if not shutil.which("perf"):
        raise SystemExit("bench: perf is not installed (apt-get install linux-perf)")
    tmp = Path(tempfile.mkdtemp(prefix="stax-bench-pp-"))
    try:
        exe = tmp / "hotspots"
        subprocess.run(["gcc", "-O1", "-g", "-fno-omit-frame-pointer", "-o", str(exe),
                        str(REPO / "examples" / "hotspots.c")], check=True)
        start = os.times()
        subprocess.run([str(exe), "-n", "100"], check=True, stdout=subprocess.DEVNULL)
        end = os.times()
        used = end.children_user + end.children_system - start.children_user - start.children_system
        used = max(used, 1e-3)
        rounds_each = max(100, int(100 * args.seconds / used))  # CPU work, not wall time: load-proof
        command = ["/bin/sh", "-c", f"{exe} -n {rounds_each} & {exe} -n {rounds_each}; wait"]
        rounds, like, captured = capture(command, args.freq, tmp / "capture.stax", args.call_graph)
        ring_bytes = sum(len(c) for per_ring in rounds for c in per_ring)
        compiled = best([replay_compiled(rounds, like, tmp / f"c{i}.stax") for i in range(args.repeat)])
        python = best([replay_python(rounds, like, tmp / f"p{i}.stax") for i in range(args.repeat)])
        same = recording_contents(tmp / "c0.stax") == recording_contents(tmp / "p0.stax")
        t_perf, c_perf, n_perf = perf_report(command, args.freq, tmp / "perf.data", args.repeat)
        load = os.getloadavg()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    (t_c, c_c, n_c), (t_p, c_p, n_p) = compiled, python
    results = {"freq": args.freq, "seconds": args.seconds, "call_graph": args.call_graph,
               "ring_bytes": ring_bytes, "captured": captured,
               "compiled_s": t_c, "compiled_cpu_s": c_c, "compiled_samples": n_c,
               "compiled_samples_per_s": n_c / t_c, "compiled_samples_per_cpu_s": n_c / c_c,
               "python_s": t_p, "python_cpu_s": c_p, "python_samples": n_p, "python_samples_per_s": n_p / t_p,
               "python_samples_per_cpu_s": n_p / c_p,
               "perf_report_s": t_perf, "perf_report_cpu_s": c_perf, "perf_samples": n_perf,
               "perf_report_samples_per_s": n_perf / t_perf, "perf_report_samples_per_cpu_s": n_perf / c_perf,
               "same_recording": same, "loadavg": load}
    print(f"workload: 2 x examples/hotspots.c, {args.seconds:g} s of CPU each, at {args.freq} Hz, "
          f"--call-graph {args.call_graph}: "
          f"{captured:,} samples, {ring_bytes / 1e6:.1f} MB of ring data  "
          f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; best of {args.repeat})")
    print(f"{'samples/s':>58} {'per CPU s':>12}")
    rows = (("stax compiled path (decode+order+intern+write)", n_c, t_c, c_c),
            ("stax Python path", n_p, t_p, c_p),
            ("perf report --stdio --no-children", n_perf, t_perf, c_perf))
    for name, n, wall, cpu in rows:
        print(f"{name:46} {n / wall:12,.0f} {n / cpu:12,.0f}  ({n:,} samples, {wall:.3f} s, {cpu:.3f} s CPU)")
    print(f"the two paths wrote {'the same recording' if same else 'DIFFERENT recordings'} (every table)")
    print(f"compiled / perf report: {(n_c / t_c) / (n_perf / t_perf):.2f}x samples/s, "
          f"{(n_c / c_c) / (n_perf / c_perf):.2f}x per CPU second  (issue 10's goal: >= 1M samples/s)")
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / f"postprocess-{args.call_graph}.json").write_text(json.dumps(results, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
