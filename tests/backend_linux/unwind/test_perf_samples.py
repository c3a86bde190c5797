"""Real perf samples: ``perf record --call-graph dwarf`` data, unwound by us and by perf.

perf's own post-processing (``perf script``, elfutils/libunwind underneath) unwinds
the same registers and stack copies; every sample must give the same chain of
(file, address).  The file is read by ``stax import``'s reader
(:class:`~stax_backend_linux.perf_data.reader.PerfDataReader`): its StackSample records
carry each sample's registers and stack copy, its ImageLoad events the executable
mappings.  Needs perf and permission to use it (root here).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import time
from pathlib import Path

import attrs
import pytest

from stax.events import ImageLoad
from stax_backend_linux.dwarf_callgraph.stack_sample import StackSample
from stax_backend_linux.perf_data.reader import PerfDataReader
from stax_backend_linux.unwind import (
    ModuleResolver,
    PerfRegisterLayout,
    UnwindTableCache,
    regs_from_perf,
    unwind,
)
from tests.backend_linux.unwind.snapshots import PROGRAMS, run

pytestmark = pytest.mark.skipif(shutil.which("perf") is None, reason="perf is not installed")


@attrs.frozen
class PerfSample:
    pid: int
    time: int
    regs_values: tuple[int, ...]
    stack: bytes


@attrs.frozen
class PerfData:
    """What the tests below use of one perf.data file."""

    sample_regs_user: int
    mappings: list[ImageLoad]
    samples: list[PerfSample]


def read_perf_data(path: Path) -> PerfData:
    with PerfDataReader(path) as reader:
        sampling = reader.dump_sampling
        assert sampling is not None, "recorded without --call-graph dwarf"
        regs = struct.Struct(f"<{sampling.regs_count}Q")
        mappings: list[ImageLoad] = []
        samples: list[PerfSample] = []
        for batch in reader.events():
            for event in batch:
                if type(event) is ImageLoad:
                    mappings.append(event)
                elif type(event) is StackSample:
                    values = regs.unpack(event.regs) if event.regs else ()
                    samples.append(PerfSample(event.pid, event.time, values, event.stack))
    return PerfData(sampling.regs_mask, mappings, samples)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PerfData]:
    directory = tmp_path_factory.mktemp("perf")
    workload = directory / "qsort_workload"
    run("gcc", "-O2", "-fomit-frame-pointer", "-o", workload, PROGRAMS / "qsort_workload.c")
    output = directory / "perf.data"
    record = subprocess.run(
        # -B -N: no build-id processing or ~/.debug cache (and perf has crashed in that code here)
        ["perf", "record", "-q", "-B", "-N", "-o", str(output), "--call-graph", "dwarf,16384", "-F", "999",
         str(workload), "400"],
        capture_output=True, text=True,
    )  # fmt: skip
    if record.returncode != 0 or not output.exists():
        pytest.skip(f"perf record failed (permissions or a perf crash): {record.stderr.strip()[:200]}")
    return output, read_perf_data(output)


def _perf_script_chains(path: Path) -> dict[int, list[tuple[str, int]]]:
    """time (ns) -> [(file name, address in file)] leaf first, as perf unwinds it."""
    text = run("perf", "script", "-i", path, "-F", "time,ip,dso", "--ns", "--no-inline", check=False)
    chains: dict[int, list[tuple[str, int]]] = {}
    current: list[tuple[str, int]] = []
    for line in text.splitlines():
        if match := re.match(r"^\s*(\d+)\.(\d{9}):\s*$", line):
            current = chains[int(match.group(1)) * 10**9 + int(match.group(2))] = []
        elif match := re.match(r"^\s+([0-9a-f]+) \((.*)\)$", line):
            current.append((os.path.basename(match.group(2)), int(match.group(1), 16)))
    return chains


def _resolver(data: PerfData, pid: int) -> ModuleResolver:
    resolver = ModuleResolver(UnwindTableCache())
    for mapping in data.mappings:
        if mapping.pid == pid:
            resolver.add_mapping(mapping.start, mapping.end, mapping.file_offset, mapping.path)
    return resolver


def test_same_chains_as_perf(recorded: tuple[Path, PerfData]) -> None:
    path, data = recorded
    workload_pid = next(m.pid for m in data.mappings if m.path.endswith("qsort_workload"))
    samples = [s for s in data.samples if s.pid == workload_pid and s.regs_values]
    assert len(samples) > 100
    resolver = _resolver(data, workload_pid)
    expected = _perf_script_chains(path)
    compared = deep = 0
    for sample in samples:
        result = unwind(regs_from_perf(data.sample_regs_user, sample.regs_values), sample.stack, resolver)
        ours = []
        for ip in result.ips:
            module = resolver.module_for(ip)
            assert module is not None, hex(ip)
            ours.append((os.path.basename(module.path), ip - module.bias))
        # perf's chain starts with the kernel part of samples taken in the kernel; it reports
        # a caller at its return address - 1 (elfutils' convention; no signal frames here)
        user = [entry for entry in expected[sample.time] if entry[0] != "[kernel.kallsyms]"]
        theirs = [entry if i == 0 else (entry[0], entry[1] + 1) for i, entry in enumerate(user)]
        assert ours == theirs, sample.time
        compared += 1
        if any(name == "qsort_workload" for name, _ in ours[1:]) and ours[0][0] == "libc.so.6":
            deep += 1  # a libc leaf whose callers were found through libc's CFI
    assert compared == len(samples)
    assert deep > 10


def test_faster_than_perf(recorded: tuple[Path, PerfData]) -> None:
    """Print samples/s for us and for `perf script`'s DWARF unwinding on the same file."""
    path, data = recorded
    workload_pid = next(m.pid for m in data.mappings if m.path.endswith("qsort_workload"))
    samples = [s for s in data.samples if s.pid == workload_pid and s.regs_values]
    resolver = _resolver(data, workload_pid)
    layout = PerfRegisterLayout(data.sample_regs_user)
    start = time.perf_counter()
    for sample in samples:
        unwind(layout.dwarf_registers(sample.regs_values), sample.stack, resolver)
    ours = len(samples) / (time.perf_counter() - start)
    start = time.perf_counter()
    run("perf", "script", "-i", path, "-F", "ip", "--no-inline", check=False)
    perfs = len(data.samples) / (time.perf_counter() - start)
    print(f"unwind: {ours:.0f} samples/s (cold, first pass); perf script: {perfs:.0f} samples/s")
    assert ours > perfs
