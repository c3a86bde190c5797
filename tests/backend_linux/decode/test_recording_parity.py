"""The compiled capture stream writes the same recording as the Python path, table for table.

bench/bench_postprocess.py replays a capture's ring bytes through both; here its replays
take synthesized rounds (two rings of samples of two processes, with mmaps, forks, an exec that
makes a process's addresses mean something else, exits, lost records, some weighted
samples, several full sample blocks) and both recordings -- the compiled stream's runs of
columns (stacks translated and added up in C) and the Python decoder's objects through
the time orderer -- must hold the same rows in every table, the sample blocks' bytes too.
"""

from __future__ import annotations

import importlib.util
import os
import random
from pathlib import Path
from types import ModuleType

import pytest

from stax.recording.schema import BLOCK_SAMPLES
from stax_backend_linux.decode import compiled_stream, fast_decoder
from stax_backend_linux.decode.record_decoder import RecordDecoder
from stax_backend_linux.decode.time_order import TimeOrderer
from tests.backend_linux import perf_record_bytes as rb
from tests.conftest import compile_c

compiled = pytest.mark.skipif(fast_decoder.load() is None,
                              reason="no compiled decoder (no compiler, or STAX_PURE_PYTHON=1)")

Rounds = list[list[bytes]]
HYBRID = Path(__file__).resolve().parents[1] / "unwind" / "hybrid"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _chain(rng: random.Random, base: int) -> list[int]:
    kernel = [0xFFFFFFFF81000000 + 16 * rng.randrange(6) for _ in range(rng.randrange(0, 3))]
    user = [base + 16 * rng.randrange(40) for _ in range(rng.randrange(1, 12))]
    if not kernel:
        return [rb.CONTEXT_USER, *user]
    return [rb.CONTEXT_KERNEL, *kernel, rb.CONTEXT_USER, *user]


def sampled_rounds(seed: int, samples: int) -> Rounds:
    """Two rings, cut into rounds at common times as drain rounds are."""
    rng = random.Random(seed)
    rings: list[list[bytes]] = [[], []]
    cuts: list[list[int]] = [[], []]
    threads = {7: [7, 8], 20: [20]}
    clock = 1_000_000
    for pid in threads:
        rings[0].append(rb.mmap2(pid, pid, 0x400000, 0x10000, 0, f"/bin/p{pid}", clock, 0))
    for step in range(samples):
        clock += rng.choice([50_000, 50_000, 100_000, 3])
        cpu = rng.randrange(2)
        pid = rng.choice(list(threads))
        tid = rng.choice(threads[pid])
        if step == samples // 3:  # pid 7 execs: same addresses, another program
            rings[cpu] += [rb.comm(7, 7, "next", clock, cpu, exec_=True),
                           rb.mmap2(7, 7, 0x400000, 0x10000, 0, "/bin/next", clock, cpu)]
        elif step == samples // 2:  # pid 20 forks pid 21, which samples from then on
            rings[cpu].append(rb.fork(21, 20, 21, 20, clock, cpu))
            threads[21] = [21]
        elif step == 2 * samples // 3:
            rings[cpu] += [rb.exit_(7, 7, 8, 7, clock, cpu), rb.lost(3, clock, cpu)]
            threads[7] = [7]
        weight = 1_000_000 if rng.random() < 0.9 else 2_500_000
        rings[cpu].append(rb.sample(0x401000, pid, tid, clock, cpu, weight, _chain(rng, 0x401000)))
        if rng.random() < 0.01:
            cuts[0].append(len(rings[0]))
            cuts[1].append(len(rings[1]))
    rounds: Rounds = []
    at = [0, 0]
    for end in zip(*cuts, strict=True):
        rounds.append([b"".join(rings[ring][at[ring]:end[ring]]) for ring in (0, 1)])
        at = list(end)
    rounds.append([b"".join(rings[ring][at[ring]:]) for ring in (0, 1)])
    return rounds


def _bench() -> ModuleType:
    """bench/bench_postprocess.py: its replays of rounds through each path, and the comparison."""
    path = Path(__file__).resolve().parents[3] / "bench" / "bench_postprocess.py"
    spec = importlib.util.spec_from_file_location("bench_postprocess", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@compiled
@pytest.mark.parametrize("seed", [1])
def test_compiled_and_python_paths_write_the_same_recording(tmp_path: Path, seed: int) -> None:
    rounds = sampled_rounds(seed, 2 * BLOCK_SAMPLES + 5_000)
    bench = _bench()
    like = RecordDecoder(lambda path: b"\x02" * 20, 127)
    _wall, _cpu, n_compiled = bench.replay_compiled(rounds, like, tmp_path / "compiled.stax")
    _wall, _cpu, n_python = bench.replay_python(rounds, like, tmp_path / "python.stax")
    assert n_compiled == n_python == 2 * BLOCK_SAMPLES + 5_000
    got = bench.recording_contents(tmp_path / "compiled.stax")
    want = bench.recording_contents(tmp_path / "python.stax")
    assert got.keys() == want.keys()
    for name in want:
        assert got[name] == want[name], name
    assert len(want["sample_blocks"]) == 3
    # the exec and the fork gave pid 7's and pid 21's stacks their own frames: not one table
    images = {row[1] for row in want["images"]}
    assert {"/bin/p7", "/bin/next", "/bin/p20"} <= images
    assert len(want["sample_totals"]) > 1000


@compiled
@pytest.mark.skipif(os.geteuid() != 0, reason="captures with perf events at 4 kHz (root here)")
def test_hybrid_capture_writes_the_same_recording_and_counts(tmp_path: Path) -> None:
    """The default ``--call-graph fp``: a real capture of leaf_callers.c (memset and strlen leaves
    repaired, nanosleep and read off the CPU) and examples/hotspots.c (its own frames: kept
    walks) started by ``sh -c`` (forks and execs) replayed
    through both paths: the same recording, the same "N of M stacks repaired", and on the
    compiled path only the new places' stack copies crossed into Python (the kept places' copies
    share raw stacks)."""
    program = compile_c(HYBRID / "leaf_callers.c", tmp_path / "leaf_callers", "-O2", "-g",
                        "-fno-omit-frame-pointer", "-pthread")
    hotspots = compile_c(EXAMPLES / "hotspots.c", tmp_path / "hotspots", "-O1", "-g",
                         "-fno-omit-frame-pointer")
    bench = _bench()
    command = ["/bin/sh", "-c", f"{program} 150 & {hotspots} -n 1000; wait"]
    rounds, like, captured = bench.capture(command, 4000, tmp_path / "capture.stax", "fp")
    assert like.dump is not None and captured > 1000
    _wall, _cpu, n_compiled = bench.replay_compiled(rounds, like, tmp_path / "compiled.stax")
    _wall, _cpu, n_python = bench.replay_python(rounds, like, tmp_path / "python.stax")
    assert n_compiled == n_python > 1000
    got = bench.recording_contents(tmp_path / "compiled.stax")
    want = bench.recording_contents(tmp_path / "python.stax")
    for name in want:
        assert got[name] == want[name], name

    decoder, unwind = bench.fresh_decoder(like)
    stream = compiled_stream.for_decoder(decoder, hybrid=True)
    for per_ring in rounds:
        unwind(stream.round([c for c in per_ring if c]))
    unwind(stream.flush())
    py_decoder, py_unwind = bench.fresh_decoder(like)
    orderer = TimeOrderer()
    for per_ring in rounds:
        py_unwind(orderer.round([py_decoder.decode_python(c) for c in per_ring if c]))
    py_unwind(orderer.flush())
    counts = ("hybrid_stacks", "checked", "repaired", "unrepaired", "stop_reasons")
    compiled_unwinder, python_unwinder = unwind.__self__.unwinder, py_unwind.__self__.unwinder
    assert python_unwinder.repaired > 0
    assert ({c: getattr(compiled_unwinder, c) for c in counts}
            == {c: getattr(python_unwinder, c) for c in counts})
    assert unwind.__self__.streamed_stack_bytes == py_unwind.__self__.streamed_stack_bytes
    assert stream.stacks.kept, "no place's copies shared a raw stack"
    kept_rows = python_unwinder.hybrid_stacks - python_unwinder.checked
    kept_copies_crossed = len(stream.stacks.dumps) - python_unwinder.checked  # at least
    assert kept_copies_crossed < kept_rows / 2, "most copies at kept places crossed into Python"
