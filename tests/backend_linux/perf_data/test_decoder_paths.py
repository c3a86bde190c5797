"""A ``perf record -a -g`` file has stax record's own sample layout (IDENTIFIER|IP|TID|TIME|
CPU|PERIOD|CALLCHAIN; perf's tracking dummy event never samples), so the compiled scan
reads it; it must give exactly what the Python decoder gives.  A per-task ``-g`` file
(no CPU) stays on the Python decoder."""

from __future__ import annotations

from pathlib import Path

import pytest

from stax_backend_linux.decode.record_decoder import RecordDecoder
from stax_backend_linux.perf_data.reader import PerfDataReader
from tests.backend_linux.perf_data.conftest import needs_root, perf_record

pytestmark = pytest.mark.slow


def decoders(path: Path) -> tuple[RecordDecoder, list[bytes]]:
    with PerfDataReader(path) as reader:
        return reader.decoder(), list(reader.walker().rounds())


@needs_root
def test_system_wide_file_goes_through_the_compiled_scan(
    tmp_path: Path, perf_workloads: dict[str, Path]
) -> None:
    data = perf_record(tmp_path / "a.data", "-a", "-g", str(perf_workloads["hotspots"]), "0.5")
    compiled, chunks = decoders(data)
    python, _ = decoders(data)
    if compiled.implementation != "compiled":
        pytest.skip("the compiled decoder cannot be built here (no compiler or Python headers)")
    assert compiled._compiled_layouts
    fast = [repr(e) for chunk in chunks for e in compiled.decode(chunk)]
    slow = [repr(e) for chunk in chunks for e in python.decode_python(chunk)]
    assert len(fast) > 1000 and fast == slow


def test_per_task_file_uses_the_python_decoder(tmp_path: Path, perf_workloads: dict[str, Path]) -> None:
    data = perf_record(tmp_path / "t.data", "-g", str(perf_workloads["hotspots"]), "0.2")
    decoder, chunks = decoders(data)
    assert not decoder._compiled_layouts
    assert sum(1 for chunk in chunks for e in decoder.decode(chunk) if type(e).__name__ == "Sample") > 100
