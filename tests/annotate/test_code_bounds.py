"""What ``stax record`` keeps is bounded: per function, per recording, hottest first."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from stax import function_code_store
from stax.analysis.annotator import Annotator
from stax.recording.reader import Recording
from tests.annotate.elf_recording import write_elf_recording
from tests.annotate.objdump_listing import symbol_range
from tests.conftest import compile_c

WORKLOAD = Path(__file__).resolve().parent / "workloads" / "hot_loop.c"


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_c(WORKLOAD, tmp_path_factory.mktemp("bounds") / "hot_loop", "-O2", "-g",
                     "-fno-omit-frame-pointer")


def test_bounds_per_function_and_per_recording(binary: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    ranges = {name: symbol_range("nm", binary, name) for name in ("hot_loop", "nap_once", "nap_loop")}
    sizes = {name: size for name, (_, size) in ranges.items()}
    assert sizes["hot_loop"] > sizes["nap_loop"] > sizes["nap_once"]
    # hot_loop is too large for a function; nap_once (hotter) fits the recording, nap_loop not
    monkeypatch.setattr(function_code_store, "MAX_FUNCTION_BYTES", sizes["hot_loop"] - 1)
    monkeypatch.setattr(function_code_store, "MAX_RECORDING_BYTES", sizes["nap_loop"] - 1)
    samples = {(ranges["hot_loop"][0] + 4,): 100, (ranges["nap_once"][0] + 2,): 10,
               (ranges["nap_loop"][0] + 2,): 5}
    recording = write_elf_recording(tmp_path / "bounded.stax", binary, samples)
    db = sqlite3.connect(recording)
    rows = {name: (status, size, code is not None) for name, status, size, code in db.execute(
        "SELECT name, status, size, code FROM code_functions")}
    lines = dict(db.execute("SELECT f.name, count(l.address) FROM code_functions f LEFT JOIN"
                            " code_lines l ON l.function_id = f.id GROUP BY f.id"))
    db.close()
    assert rows == {"hot_loop": ("too-large", sizes["hot_loop"], False),
                    "nap_once": ("kept", sizes["nap_once"], True),
                    "nap_loop": ("over-budget", sizes["nap_loop"], False)}
    assert lines["nap_once"] > 0 and lines["hot_loop"] == lines["nap_loop"] == 0
    rec = Recording.open(recording)
    try:
        assert rec.meta()["code"] == {
            "functions": 1, "bytes": sizes["nap_once"], "too_large": 1, "over_budget": 1,
            "max_function_bytes": sizes["hot_loop"] - 1, "max_recording_bytes": sizes["nap_loop"] - 1}
        annotator = Annotator(rec)
        notes = {s.name: annotator.annotate(s).note for s in annotator.functions()}
        origins = {s.name: annotator.annotate(s).code_origin for s in annotator.functions()}
    finally:
        rec.close()
    assert origins == {"hot_loop": "file", "nap_once": "recording", "nap_loop": "file"}
    assert notes["nap_once"] is None
    assert notes["hot_loop"] == (
        f"The code of hot_loop ({sizes['hot_loop']} bytes) was not kept in {recording}, being larger"
        f" than the {sizes['hot_loop'] - 1} bytes kept per function; read it from {binary} instead,"
        " whose build id still matches.")
    assert notes["nap_loop"].startswith(
        f"The code of nap_loop was not kept in {recording}: the {sizes['nap_loop'] - 1} bytes of code"
        " kept per recording went to hotter functions; read it from")
