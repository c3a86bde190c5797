"""The sample layouts ``perf record`` writes go through the compiled scan (fast_decode.c), which
must give exactly what the Python decoder gives.

perf's layouts differ from stax record's: a per-task file has no CPU and no id
(IP|TID|TIME|CALLCHAIN|PERIOD), ``-a`` adds CPU and IDENTIFIER (stax record's own),
``--call-graph dwarf`` adds ADDR and the user register and stack copy, ``-d`` ADDR and
DATA_SRC, ``--switch-events`` SWITCH records whose sample_id trailer has no CPU.  Each
event's attr gives the scan its offsets (SampleLayout.compiled)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stax.recording.reader import Recording
from stax_backend_linux.decode import fast_decoder
from stax_backend_linux.decode.record_decoder import RecordDecoder
from stax_backend_linux.perf_data.reader import PerfDataReader
from tests.backend_linux.perf_data.conftest import perf_record
from tests.cli.conftest import stax

pytestmark = pytest.mark.slow
LAYOUTS = {
    "per task -g": ("-g",),
    "per task, no callchain": (),
    "per task --call-graph dwarf": ("--call-graph", "dwarf,1024"),
    "per task -d --sample-cpu": ("-g", "-d", "--sample-cpu"),
    "per task --switch-events": ("-g", "--switch-events"),
    "-a -g": ("-a", "-g"),
}


def decoders(path: Path) -> tuple[RecordDecoder, list[bytes]]:
    with PerfDataReader(path) as reader:
        return reader.decoder(), list(reader.walker().rounds())


def comparable(event: object) -> tuple:
    slots = getattr(type(event), "__slots__", None)
    if slots:  # StackSample: its registers and stack copy too
        return (type(event).__name__, *(getattr(event, name) for name in slots))
    return (repr(event),)


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_perf_layouts_go_through_the_compiled_scan(
    name: str, tmp_path: Path, perf_workloads: dict[str, Path]
) -> None:
    args = LAYOUTS[name]
    if "-a" in args and os.geteuid() != 0:
        pytest.skip("perf record -a needs root (perf_event_paranoid 2)")
    data = perf_record(tmp_path / "p.data", *args, str(perf_workloads["hotspots"]), "0.3")
    compiled, chunks = decoders(data)
    python, _ = decoders(data)
    if compiled.implementation != "compiled":
        pytest.skip("the compiled decoder cannot be built here (no compiler or Python headers)")
    assert compiled.scans_compiled, name
    fast = [comparable(e) for chunk in chunks for e in compiled.decode(chunk)]
    slow = [comparable(e) for chunk in chunks for e in python.decode_python(chunk)]
    assert compiled.samples == python.samples > 100
    assert fast == slow
    if "--switch-events" in args:
        # hotspots is CPU-bound: on a quiet machine only its start (perf's exec wait), its exit
        # and a few preemptions switch it out (8-10 seen), more under load.
        assert compiled.switch_records == python.switch_records >= 4


@pytest.mark.parametrize("name", ["per task -g", "per task --call-graph dwarf", "-a -g"])
def test_import_paths_make_the_same_recording(
    name: str, tmp_path: Path, perf_workloads: dict[str, Path]
) -> None:
    """A plain profile is imported through fast_stream.c's rounds (EventColumns, as stax record's
    compiled stream), a --call-graph dwarf one through the compiled scan: the same stacks, threads
    and weights as the Python decoder's import."""
    args = LAYOUTS[name]
    if "-a" in args and os.geteuid() != 0:
        pytest.skip("perf record -a needs root (perf_event_paranoid 2)")
    data = perf_record(tmp_path / "p.data", *args, str(perf_workloads["hotspots"]), "0.3")
    outputs, decoders_used, records = [], [], []
    for pure in ("0", "1"):
        rec = tmp_path / f"pure{pure}.stax"
        stax("import", "-q", str(data), "-o", str(rec), env={**os.environ, "STAX_PURE_PYTHON": pure})
        outputs.append(stax("collapse", "--per-thread", str(rec)).stdout)
        recording = Recording.open(rec)
        try:
            meta = recording.meta()
            decoders_used.append(meta["import.decoder"])
            records.append(meta["import.records"])  # the walk over the file: compiled or not
        finally:
            recording.close()
    if fast_decoder.load() is None:
        pytest.skip("the compiled decoder cannot be built here (no compiler or Python headers)")
    assert decoders_used == ["compiled scan" if "dwarf" in name else "compiled", "python"]
    assert outputs[0] == outputs[1] and outputs[0].count("\n") > 3
    assert records[0] == records[1] > 100
