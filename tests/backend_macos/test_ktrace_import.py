"""``stax import FILE.ktrace``: synthesized ktrace files through the real CLI, figures checked exactly."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from stax.cli.app import run
from stax.recording import meta_keys
from stax.recording.reader import Recording
from tests.backend_macos.conftest import ServerBinary
from tests.backend_macos.kdebug_builder import MS, chunk, header, ktrace_file
from tests.backend_macos.server_trace import (
    KERNEL_STACK,
    KERNEL_WAKER,
    LOCK_NS,
    LOCK_SPANS,
    MAIN,
    MAIN_HOT,
    MAIN_WARM,
    PID,
    PREEMPT_NS,
    PREEMPTIONS,
    SLEEP_NS,
    SLEEP_SPANS,
    WORKER,
    WORKER_HOT,
    server_trace,
)


def stax_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code = run([*argv, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def import_file(capsys: pytest.CaptureFixture[str], trace: Path, rec: Path) -> str:
    code = run(["import", str(trace), "-o", str(rec)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    return err


@pytest.fixture(scope="module", params=["ktrace5", "xnu10002"])
def imported(request: pytest.FixtureRequest, server_binary: ServerBinary,
             tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server trace as a ktrace file (both events-chunk layouts, split in three), imported."""
    directory = tmp_path_factory.mktemp(f"import-{request.param}")
    trace = directory / "server.ktrace"
    trace.write_bytes(ktrace_file(server_trace(server_binary), layout=request.param, split=3))
    rec = directory / "server.stax"
    assert run(["import", str(trace), "-o", str(rec), "-q"]) == 0
    return rec


def test_top_names_the_real_functions_with_exact_times(imported: Path, capsys) -> None:
    data = stax_json(capsys, "top", str(imported))
    assert data["samples"] == MAIN_HOT + MAIN_WARM + WORKER_HOT
    functions = {f["function"]: f for f in data["functions"]}
    assert functions["hot"]["total"] == MAIN_HOT + WORKER_HOT
    assert functions["hot"]["self"] == MAIN_HOT  # the worker was sampled in the kernel, called from hot
    kernel_leaf = f"[kernel.kallsyms]+{KERNEL_STACK[0]:#x}"
    assert functions[kernel_leaf]["self"] == WORKER_HOT and functions[kernel_leaf]["is_kernel"]
    assert functions["warm"]["self"] == MAIN_WARM
    assert functions["main"]["total"] == MAIN_HOT + MAIN_WARM and functions["main"]["self"] == 0
    assert functions["worker_main"]["total"] == WORKER_HOT
    assert functions["hot"]["image"] == "server"
    threads = {t["tid"]: t for t in data["threads"]}
    assert threads[MAIN]["samples"] == MAIN_HOT + MAIN_WARM
    assert threads[WORKER]["samples"] == WORKER_HOT and threads[WORKER]["name"] == "worker"


def test_threads_show_exact_blocked_time_runnable_wait_and_wakers(imported: Path, capsys) -> None:
    data = stax_json(capsys, "threads", str(imported))
    rows = {t["tid"]: t for t in data["threads"]}
    worker, main = rows[WORKER], rows[MAIN]
    assert worker["pid"] == PID and worker["process"] == "server"
    assert worker["on_cpu_ns"] == WORKER_HOT * MS
    assert worker["blocked"] == {"lock": LOCK_SPANS * LOCK_NS}
    assert worker["blocked_spans"] == LOCK_SPANS
    runnable = (worker["runnable_wait_spans"], worker["runnable_wait_ns"])
    assert runnable == (PREEMPTIONS, PREEMPTIONS * PREEMPT_NS)
    assert worker["wakeups_received"] == LOCK_SPANS
    assert [(w["tid"], w["name"], w["count"]) for w in worker["wakers"]] == [(MAIN, "server", LOCK_SPANS)]
    assert main["on_cpu_ns"] == (MAIN_HOT + MAIN_WARM) * MS
    assert main["blocked"] == {"sleep": SLEEP_SPANS * SLEEP_NS}
    assert [(w["tid"], w["name"], w["count"]) for w in main["wakers"]] == [
        (KERNEL_WAKER, "kernel_task", SLEEP_SPANS)]


def test_wakers_join_the_blocked_stack_to_its_waker(imported: Path, capsys) -> None:
    data = stax_json(capsys, "wakers", str(imported))
    chains = {c["reason"]: c for c in data["chains"]}
    lock = chains["lock"]
    assert (lock["spans"], lock["blocked_ns"]) == (LOCK_SPANS, LOCK_SPANS * LOCK_NS)
    stack = [(f["function"], f["is_kernel"]) for f in lock["stack"]]
    assert stack == [("worker_main", False), ("wait_for_work", False),  # the user stack where it blocked,
                     (f"[kernel.kallsyms]+{KERNEL_STACK[1]:#x}", True),  # then the kernel's, root first
                     (f"[kernel.kallsyms]+{KERNEL_STACK[0]:#x}", True)]
    assert [(w["tid"], w["spans"], w["blocked_ns"]) for w in lock["wakers"]] == [
        (MAIN, LOCK_SPANS, LOCK_SPANS * LOCK_NS)]
    sleep = chains["sleep"]
    assert (sleep["spans"], sleep["blocked_ns"]) == (SLEEP_SPANS, SLEEP_SPANS * SLEEP_NS)
    assert [(w["tid"], w["name"]) for w in sleep["wakers"]] == [(KERNEL_WAKER, "kernel_task")]


def test_import_summary_and_metadata(server_binary: ServerBinary, tmp_path: Path, capsys) -> None:
    trace = tmp_path / "server.artrace"
    trace.write_bytes(ktrace_file(server_trace(server_binary), magic=0x00001000))
    err = import_file(capsys, trace, tmp_path / "s.stax")
    assert "stax: Each sample counts 1 ms of CPU time (the kperf timer period in the trace)." in err
    spans = LOCK_SPANS + PREEMPTIONS + SLEEP_SPANS
    assert f"imported {MAIN_HOT + MAIN_WARM + WORKER_HOT:,} samples, {spans} off-CPU spans and" \
           f" {LOCK_SPANS + SLEEP_SPANS} wakeups" in err
    meta = stax_json(capsys, "top", str(tmp_path / "s.stax"))
    assert meta["duration_s"] is not None
    recording = Recording.open(tmp_path / "s.stax")
    try:
        unnamed = [key for key in recording.meta() if not meta_keys.is_named(key)]
    finally:
        recording.close()
    assert unnamed == []  # every key the importer and stax import write is named in meta_keys


def test_default_output_is_the_trace_name_in_the_current_directory(server_binary: ServerBinary,
                                                                    tmp_path: Path, monkeypatch) -> None:
    trace = tmp_path / "in" / "day1.ktrace"
    trace.parent.mkdir()
    trace.write_bytes(ktrace_file(server_trace(server_binary)))
    monkeypatch.chdir(tmp_path)
    assert run(["import", str(trace), "-q"]) == 0
    assert (tmp_path / "day1.stax").is_file()


# -- bad files: one sentence, never a traceback ---------------------------------------------------


def one_sentence(capsys, *argv: str) -> tuple[int, str]:
    code = run(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return code, lines[0]


def test_a_file_no_importer_recognises(tmp_path: Path, capsys) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("hello, this is not a trace\n")
    code, line = one_sentence(capsys, "import", str(other), "-o", str(tmp_path / "x.stax"))
    assert code == 1
    assert line.startswith(f"stax: {other} is not a trace stax can import: no installed importer recognises"
                           f" its contents (installed: ktrace: Apple ktrace/artrace")
    assert not (tmp_path / "x.stax").exists()


def test_wrong_magic_in_the_same_shape_is_not_recognised(server_binary, tmp_path: Path, capsys) -> None:
    data = bytearray(ktrace_file(server_trace(server_binary)))
    data[0:4] = b"\x00\x04\xaa\x55"
    (tmp_path / "t.ktrace").write_bytes(bytes(data))
    code, line = one_sentence(capsys, "import", str(tmp_path / "t.ktrace"))
    assert code == 1 and "is not a trace stax can import" in line


@pytest.mark.parametrize("keep", [0, 3, 55])
def test_truncated_header(tmp_path: Path, capsys, keep: int) -> None:
    path = tmp_path / "cut.ktrace"
    path.write_bytes(header()[:keep] if keep >= 4 else b"\x00\x03\xaa\x55"[:keep])
    code, line = one_sentence(capsys, "import", str(path), "-o", str(tmp_path / "cut.stax"))
    assert code == 1
    if keep < 4:
        assert "is not a trace stax can import" in line
    else:
        assert line == (f"stax: {path} is truncated: it ends inside the 56-byte ktrace header; copy the whole"
                        f" file from the Mac again.")


def test_an_older_trace_version_is_named(tmp_path: Path, capsys) -> None:
    path = tmp_path / "old.trace"
    path.write_bytes(struct.pack("<I", 0x55AA0101) + b"\0" * 300)
    code, line = one_sentence(capsys, "import", str(path))
    assert code == 1
    assert line == (f"stax: {path} is a version 1 kdebug trace; stax reads version 3 ktrace files: record it"
                    f" again with Apple's ktrace tool on macOS 10.12 or later.")


def test_a_32_bit_trace_is_refused(tmp_path: Path, capsys) -> None:
    path = tmp_path / "k32.ktrace"
    path.write_bytes(header(flags=0) + chunk(0x1E00, b"\0" * 8))
    code, line = one_sentence(capsys, "import", str(path))
    assert line == f"stax: {path} was recorded by a 32-bit kernel; stax reads 64-bit traces only."


def test_a_damaged_header_size(tmp_path: Path, capsys) -> None:
    data = bytearray(header())
    data[8:16] = struct.pack("<Q", 10**9)
    path = tmp_path / "big.ktrace"
    path.write_bytes(bytes(data))
    code, line = one_sentence(capsys, "import", str(path))
    assert code == 1
    assert line == (f"stax: {path} has a damaged header (it claims 1000000000 header bytes in a 56-byte"
                    f" file); copy the file from the Mac again.")


def test_no_events(tmp_path: Path, capsys) -> None:
    path = tmp_path / "empty.ktrace"
    path.write_bytes(header() + chunk(0x1D00, b""))
    code, line = one_sentence(capsys, "import", str(path))
    assert line == (f"stax: {path} holds no kdebug events (no events chunk was found); record the trace again"
                    f" with events enabled.")


def test_unknown_chunks_are_skipped_and_counted(server_binary, tmp_path: Path, capsys) -> None:
    extra = chunk(0x8002, b"\x07\x58\xa2\x59" + b"x" * 13) + chunk(0x9999, b"") + chunk(0x8002, b"y" * 3)
    path = tmp_path / "extra.ktrace"
    path.write_bytes(ktrace_file(server_trace(server_binary), extra=extra))
    err = import_file(capsys, path, tmp_path / "extra.stax")
    assert "stax: Skipped 2 chunks of unknown kind 0x8002, 1 chunks of unknown kind 0x9999." in err
    data = stax_json(capsys, "top", str(tmp_path / "extra.stax"))
    assert data["samples"] == MAIN_HOT + MAIN_WARM + WORKER_HOT


def test_a_file_cut_inside_the_events_keeps_every_whole_record(server_binary, tmp_path: Path, capsys) -> None:
    whole = ktrace_file(server_trace(server_binary))
    path = tmp_path / "cut.ktrace"
    path.write_bytes(whole[: len(whole) - 64 * 1000 - 17])
    err = import_file(capsys, path, tmp_path / "cut.stax")
    assert "stax: The file ends inside an events chunk: its last 1,001 records are missing (was the copy" \
           " cut short?)." in err
    assert "kperf samples cut off by the end of the trace" in err or "Skipped" in err


def test_damaged_files_never_raise_a_traceback(server_binary, tmp_path: Path, capsys) -> None:
    """Seeded damage anywhere in a valid file: the import succeeds or says one sentence."""
    import random

    whole = ktrace_file(server_trace(server_binary), split=2)
    rng = random.Random(15)
    for case in range(60):
        data = bytearray(whole)
        for _ in range(rng.choice([1, 4, 32])):
            where = rng.randrange(0, 600) if case % 2 else rng.randrange(len(data))
            data[where] = rng.randrange(256)
        path = tmp_path / f"damaged{case}.ktrace"
        path.write_bytes(bytes(data))
        code = run(["import", str(path), "-o", str(tmp_path / f"d{case}.stax"), "-q", "--no-symbolicate"])
        err = capsys.readouterr().err
        assert "Traceback" not in err and code in (0, 1), (case, err)
        assert code == 0 or err.count("\n") == 1, (case, err)
