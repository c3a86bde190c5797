"""The recording is self-contained: annotate works when the binary is deleted or rebuilt, and
says in one sentence where the code came from when the recording did not keep it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.annotate.conftest import Recorded, function_self_samples, record_workload, stax
from tests.annotate.objdump_listing import instructions_agree, objdump_function, symbol_range
from tests.conftest import compile_c

CODE_TABLES = ("code_functions", "code_files", "code_lines", "code_inlines", "code_symbols")


def hot_loop(recording: Path) -> dict:
    document = json.loads(stax("annotate", str(recording), "hot_loop", "--json").stdout)
    (function,) = document["functions"]
    return function


def as_older_recording(recording: Path, copy: Path) -> Path:
    """A copy without the code tables, as a stax from before annotate wrote it."""
    shutil.copy(recording, copy)
    db = sqlite3.connect(copy)
    with db:
        for table in CODE_TABLES:
            db.execute(f"DROP TABLE {table}")
        db.execute("DELETE FROM meta WHERE key = 'code'")
    db.close()
    return copy


def agrees_with_objdump(function: dict, binary: Path) -> bool:
    start, size = symbol_range("nm", binary, "hot_loop")
    theirs = [r for r in objdump_function("objdump", binary, "hot_loop") if r[0] < start + size]
    ours = function["instructions"]
    return len(ours) == len(theirs) and all(
        i["address"] == a and instructions_agree("x86_64", (i["mnemonic"], i["operands"]), (m, o))
        for i, (a, m, o) in zip(ours, theirs, strict=True))


@pytest.fixture(scope="module")
def gone(tmp_path_factory: pytest.TempPathFactory, recorded: Recorded) -> Recorded:
    """A recording whose binary was deleted right after ``stax record``."""
    rec = record_workload(tmp_path_factory.mktemp("gone"), "gone_loop")
    rec.binary.unlink()
    return rec


def test_deleted_binary_still_annotates_from_the_recording(gone: Recorded) -> None:
    assert not gone.binary.exists()
    function = hot_loop(gone.recording)
    assert function["code_origin"] == "recording" and function["note"] is None
    assert agrees_with_objdump(function, gone.twin)
    assert function["count"] == function_self_samples(gone.recording, "hot_loop") > 0
    assert any(i["source"] and "LOOP" in (i["source"]["text"] or "") for i in function["instructions"])
    text = stax("annotate", str(gone.recording), "hot_loop").stdout
    assert "code kept in the recording" in text and "note:" not in text


def test_older_recording_reads_the_matching_binary(recorded: Recorded, tmp_path: Path) -> None:
    older = as_older_recording(recorded.recording, tmp_path / "older.stax")
    function = hot_loop(older)
    assert function["code_origin"] == "file"
    assert function["note"] == (
        f"The code of hot_loop was not kept in {older}, which was recorded without keeping code;"
        f" read it from {recorded.binary} instead, whose build id still matches.")
    assert agrees_with_objdump(function, recorded.twin)
    assert sum(i["count"] for i in function["instructions"]) == function["count"]


def test_older_recording_of_a_deleted_binary_shows_addresses(gone: Recorded, tmp_path: Path) -> None:
    older = as_older_recording(gone.recording, tmp_path / "older.stax")
    function = hot_loop(older)
    assert function["code_origin"] is None
    assert function["note"] == (
        f"The code of hot_loop was not kept in {older}, which was recorded without keeping code,"
        f" and {gone.binary} no longer exists; only samples per address are shown.")
    assert all(i["mnemonic"] == "" and i["address"] is None for i in function["instructions"])
    assert sum(i["count"] for i in function["instructions"]) == function["count"] > 0
    text = stax("annotate", str(older), "hot_loop").stdout
    assert "(code not available)" in text and "# note: The code of hot_loop" in text


def test_older_recording_never_borrows_a_rebuilt_binary(gone: Recorded, tmp_path: Path) -> None:
    older = as_older_recording(gone.recording, tmp_path / "older.stax")
    source = Path(__file__).resolve().parent / "workloads" / "hot_loop.c"
    compile_c(source, gone.binary, "-O1", "-g", "-fno-omit-frame-pointer")  # another build id
    try:
        function = hot_loop(older)
    finally:
        gone.binary.unlink()
    assert function["code_origin"] is None
    assert function["note"].endswith(f"and {gone.binary} is another build now; only samples per"
                                     " address are shown.")
