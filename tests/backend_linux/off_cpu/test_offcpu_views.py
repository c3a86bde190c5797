"""The off-CPU views through ``stax.cli.app.run`` (and once through the real executable):
``top|flamegraph|collapse --off-cpu``, ``threads``, ``wakers``, filters and bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stax.cli.app import run
from stax_render.palette import reason_colour
from tests.backend_linux.off_cpu.synthetic_off_cpu import MS, NAP_PID, READER, WRITER
from tests.render.synthetic_recording import write_recording

STAX = str(Path(sys.executable).parent / "stax")
SVG = "{http://www.w3.org/2000/svg}"
SECOND = 1_000_000_000


def run_out(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code, out, err = run_out(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def on_cpu_only_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_recording(tmp_path_factory.mktemp("oncpu") / "oncpu.stax", [("main;work", 100)])


# -- top --off-cpu ----------------------------------------------------------------------------------


def test_top_off_cpu_json_nap(nap_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "top", str(nap_rec), "--off-cpu")
    assert data["view"] == "off-cpu"
    assert data["blocked_ns"] == SECOND and data["spans"] == 10
    assert data["runnable_wait"] == {"spans": 3, "ns": 6 * MS, "ms": 6.0}
    assert data["reasons"] == [{"reason": "sleep", "spans": 10, "ns": SECOND, "ms": 1000.0,
                                "percent": 100.0}]
    functions = {f["function"]: f for f in data["functions"]}
    nap = functions["nap"]
    assert (nap["blocked_ms"], nap["percent"], nap["spans"]) == (1000.0, 100.0, 10)
    assert nap["reasons"] == {"sleep": SECOND} and not nap["is_kernel"]
    assert "compute" not in functions  # only runnable wait there: never blocked time
    assert data["threads"] == [{"pid": NAP_PID, "tid": NAP_PID, "name": "nap", "process": "nap",
                                "spans": 10, "blocked_ns": SECOND, "blocked_ms": 1000.0,
                                "percent": 100.0}]


def test_top_off_cpu_text(pingpong_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_out(capsys, "top", str(pingpong_rec), "--off-cpu", "-n", "40")
    assert code == 0
    assert "# blocked: 1,020.0 ms in 220 spans" in out
    assert "runnable wait (preempted, not blocked): 3.0 ms in 1 span\n" in out
    assert "# by reason: pipe-ipc 1,000.0 ms (98.0%), lock 20.0 ms (2.0%)" in out
    assert "# threads: reader-201 1,000.0 ms, writer-202 20.0 ms" in out
    lines = {line.split()[-2]: line for line in out.splitlines() if line.strip()[:1].isdigit()}
    assert re.search(r"1,000\.0 ms\s+98\.04%\s+200\s+pipe-ipc 100%\s+\[\.\] reader_loop",
                     lines["reader_loop"])
    assert re.search(r"20\.0 ms\s+1\.96%\s+20\s+lock 100%\s+\[\.\] writer_loop", lines["writer_loop"])
    assert "pipe-ipc 98% lock 2%" in lines["_start"]
    code, out, _ = run_out(capsys, "top", str(pingpong_rec), "--off-cpu", "-n", "2")
    assert sum(1 for line in out.splitlines() if line.strip()[:1].isdigit()) == 2


def test_filters(pingpong_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    writer = run_json(capsys, "top", str(pingpong_rec), "--off-cpu", "--tid", str(WRITER))
    assert writer["blocked_ns"] == 20 * MS and writer["runnable_wait"]["ns"] == 3 * MS
    assert run_json(capsys, "top", str(pingpong_rec), "--off-cpu", "--comm", "reader")["blocked_ns"] == SECOND
    assert run_json(capsys, "top", str(pingpong_rec), "--off-cpu", "-p", "200")["blocked_ns"] == 1020 * MS
    threads = run_json(capsys, "threads", str(pingpong_rec), "--comm", "writer")["threads"]
    assert [t["tid"] for t in threads] == [WRITER]
    chains = run_json(capsys, "wakers", str(pingpong_rec), "-t", str(READER))["chains"]
    assert [c["reason"] for c in chains] == ["pipe-ipc"]
    code, out, err = run_out(capsys, "top", str(pingpong_rec), "--off-cpu", "--pid", "4242")
    assert code != 0 and out == "" and err.count("\n") == 1
    assert "No off-CPU spans" in err and "--pid 4242" in err


def test_only_runnable_wait_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from stax.blocked_reason import BlockedReason
    from tests.backend_linux.off_cpu.synthetic_off_cpu import OffCpuRecording

    rec = OffCpuRecording(tmp_path / "busy.stax", 7, {7: "busy"})
    rec.samples("main;spin", 7, 10)
    rec.span("main;spin", 7, 4 * MS, BlockedReason.PREEMPTED)
    path = rec.write()
    code, out, err = run_out(capsys, "top", str(path), "--off-cpu")
    assert code != 0 and out == "" and err.count("\n") == 1
    assert "no blocked time" in err and "4.0 ms of runnable wait" in err
    threads = run_json(capsys, "threads", str(path))["threads"]
    assert threads[0]["runnable_wait_ns"] == 4 * MS and threads[0]["blocked_ns"] == 0


# -- flamegraph --off-cpu ----------------------------------------------------------------------------


def frame_groups(svg: Path) -> dict[str, ET.Element]:
    root = ET.parse(svg).getroot()
    out: dict[str, ET.Element] = {}
    for g in root.iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        if title is not None:
            out.setdefault(title.text.split("\n")[0], g)
    return out


def test_flamegraph_off_cpu(pingpong_rec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg = tmp_path / "off.svg"
    code, _, err = run_out(capsys, "flamegraph", str(pingpong_rec), "--off-cpu", "-o", str(svg))
    assert code == 0 and "wrote" in err
    root = ET.parse(svg).getroot()  # well-formed XML
    assert root.get("data-total") == str(1020 * MS) and root.get("data-unit") == "blocked time"
    assert root.find(f".//{SVG}text[@id='title']").text == "Off-CPU Flame Graph"
    subtitle = root.find(f".//{SVG}text[@id='subtitle']").text
    assert "1,020.0 ms blocked in 220 spans" in subtitle and "runnable wait" in subtitle
    # legend: one swatch per reason present (a 10x10 rect, then its label), in the reason's colour
    children = list(root)
    legend = {label.text: swatch.get("fill") for swatch, label in zip(children, children[1:], strict=False)
              if swatch.tag == f"{SVG}rect" and swatch.get("width") == "10" and label.tag == f"{SVG}text"}
    assert set(legend) == {"pipe-ipc", "lock"}
    assert legend["pipe-ipc"] == reason_colour("pipe-ipc") and legend["lock"] == reason_colour("lock")
    groups = frame_groups(svg)
    writer = groups["writer_loop"]
    assert writer.get("data-n") == str(20 * MS)
    title = writer.find(f"{SVG}title").text
    assert "20.0 ms blocked, 1.96%" in title and "lock 100%" in title
    top = groups["_start"].find(f"{SVG}title").text
    assert "pipe-ipc 98%, lock 2%" in top

    def hue(g: ET.Element) -> tuple[int, ...]:
        return tuple(int(v) for v in re.findall(r"\d+", g.find(f"{SVG}rect").get("fill")))

    r, g, b = hue(writer)   # lock: red
    assert r > g and r > b
    r, g, b = hue(groups["reader_loop"])  # pipe-ipc: green
    assert g > r and g > b


def test_flamegraph_off_cpu_inverted(pingpong_rec: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    svg = tmp_path / "inv.svg"
    code, _, _ = run_out(capsys, "flamegraph", str(pingpong_rec), "--off-cpu", "--inverted", "-o", str(svg))
    assert code == 0
    root = ET.parse(svg).getroot()
    assert root.get("data-inverted") == "1"
    groups = frame_groups(svg)
    # callee first: the wait-site frame every blocked stack ends in is the whole width
    assert groups["__schedule"].get("data-n") == str(1020 * MS)
    assert "pipe-ipc 98%, lock 2%" in groups["__schedule"].find(f"{SVG}title").text
    assert groups["pthread_mutex_lock"].get("data-n") == str(20 * MS)


# -- collapse --off-cpu -------------------------------------------------------------------------------


def folded(out: str) -> dict[str, int]:
    lines = {}
    for line in out.splitlines():
        stack, weight = line.rsplit(" ", 1)
        assert weight.isdigit()  # integer ns
        lines[stack] = int(weight)
    return lines


def test_collapse_off_cpu(pingpong_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_out(capsys, "collapse", str(pingpong_rec), "--off-cpu")
    assert code == 0
    lines = folded(out)
    assert sum(lines.values()) == 1020 * MS and len(lines) == 2
    assert lines["_start;main;reader_loop;read;ksys_read;pipe_read;schedule;__schedule"] == SECOND
    code, out, _ = run_out(capsys, "collapse", str(pingpong_rec), "--off-cpu", "--by-reason")
    by_reason = folded(out)
    assert sum(by_reason.values()) == 1020 * MS
    assert {stack.split(";")[0] for stack in by_reason} == {"pipe-ipc", "lock"}
    code, out, _ = run_out(capsys, "collapse", str(pingpong_rec), "--off-cpu", "--by-reason", "--per-thread")
    per_thread = folded(out)
    assert sum(per_thread.values()) == 1020 * MS
    assert {";".join(s.split(";")[:2]) for s in per_thread} == {"reader-201;pipe-ipc", "writer-202;lock"}


def test_collapse_by_reason_needs_off_cpu(nap_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_out(capsys, "collapse", str(nap_rec), "--by-reason")
    assert code != 0 and "--off-cpu" in err and err.count("\n") == 1


# -- threads ---------------------------------------------------------------------------------------------


def test_threads_json(pingpong_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "threads", str(pingpong_rec))
    assert data["has_off_cpu"] is True
    reader, writer = data["threads"]
    assert (reader["tid"], reader["name"], reader["on_cpu_ns"]) == (READER, "reader", 30 * MS)
    assert reader["blocked"] == {"pipe-ipc": SECOND} and reader["runnable_wait_ns"] == 0
    assert reader["wakeups_received"] == 196
    assert reader["wakers"] == [{"pid": 200, "tid": WRITER, "name": "writer", "count": 196,
                                 "context": "thread"}]
    assert reader["counters"] == {"cycles": 1_000_000, "instructions": 1_500_000} and reader["ipc"] == 1.5
    assert writer["blocked_ns"] == 20 * MS and writer["runnable_wait_ns"] == 3 * MS
    assert writer["runnable_wait_spans"] == 1 and writer["ipc"] == 0.5


def test_threads_text(pingpong_rec: Path, nap_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_out(capsys, "threads", str(pingpong_rec))
    assert code == 0
    header, reader, writer = (line.split() for line in out.splitlines()[2:5])
    assert header[:8] == ["pid", "tid", "name", "on-cpu", "blocked", "pipe-ipc", "lock", "runnable"]
    assert "cycles" in header and "ipc" in header
    assert reader[:9] == ["200", "201", "reader", "30.0", "1,000.0", "1,000.0", "-", "0.0", "196"]
    assert "writer-202" in reader[-2] and reader[-1] == "x196"
    assert writer[7] == "3.0" and "0.50" in writer
    code, out, _ = run_out(capsys, "threads", str(nap_rec))
    row = out.splitlines()[-1].split()
    assert row[:8] == ["300", "300", "nap", "50.0", "1,000.0", "1,000.0", "6.0", "10"]


def test_threads_on_an_on_cpu_recording_says_why_off_cpu_is_missing(
        on_cpu_only_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "threads", str(on_cpu_only_rec))
    assert data["has_off_cpu"] is False and data["threads"][0]["on_cpu_ns"] == 100 * MS
    assert "has no off-CPU data" in data["notes"][0]


# -- wakers ----------------------------------------------------------------------------------------------


def test_wakers_json_pingpong(pingpong_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "wakers", str(pingpong_rec))
    assert set(data) == {"recording", "blocked_ns", "blocked_spans", "woken_ns", "chain_count", "notes",
                         "incomplete", "chains"}
    assert data["incomplete"] is None
    assert data["blocked_ns"] == 1020 * MS and data["chain_count"] == 2
    pipe = data["chains"][0]
    assert set(pipe) == {"reason", "blocked_ns", "blocked_ms", "spans", "percent", "stack", "threads",
                         "wakers", "waker_count", "other_wakers", "no_wakeup"}
    assert (pipe["reason"], pipe["spans"], pipe["blocked_ms"]) == ("pipe-ipc", 200, 1000.0)
    assert [f["function"] for f in pipe["stack"]][2:4] == ["reader_loop", "read"]
    waker = pipe["wakers"][0]
    assert (waker["tid"], waker["name"], waker["spans"]) == (WRITER, "writer", 196)
    assert waker["percent"] >= 95.0
    functions = [f["function"] for f in waker["stack"]]
    assert "writer_loop" in functions and functions[-1] == "try_to_wake_up"
    assert pipe["no_wakeup"] == {"spans": 4, "blocked_ns": 20 * MS}
    assert run_json(capsys, "wakers", str(pingpong_rec), "-n", "1")["chain_count"] == 2
    assert len(run_json(capsys, "wakers", str(pingpong_rec), "-n", "1")["chains"]) == 1


def test_wakers_text(pingpong_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_out(capsys, "wakers", str(pingpong_rec))
    assert code == 0
    assert "# blocked: 1,020.0 ms in 220 spans; 98.0% of it ended by a captured wakeup" in out
    assert "#1  pipe-ipc  1,000.0 ms (98.0%) in 200 spans   blocked: reader-201" in out
    assert "-- woken by writer-202 (pid 200): 196 of 200 spans, 980.0 ms (98.0%) --" in out
    assert "-- woken by reader-201 (pid 200): 20 of 20 spans" in out
    assert "-- no wakeup captured: 4 spans, 20.0 ms (2.0%) --" in out
    chain = out.split("#1  ")[1].split("#2  ")[0]
    blocked, woken = chain.split("-- woken by")
    assert "[.] reader_loop" in blocked and "[k] pipe_read" in blocked
    assert "[.] writer_loop" in woken and "[k] pipe_write" in woken


def test_timer_wakeups_are_credited_to_the_interrupt(nap_rec: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (chain,) = run_json(capsys, "wakers", str(nap_rec))["chains"]
    (waker,) = chain["wakers"]  # idle task and bystander merged: neither did the waking
    assert (waker["name"], waker["context"], waker["pid"], waker["tid"]) == (
        "[timer interrupt]", "interrupt", None, None)
    assert waker["spans"] == 10 and waker["percent"] == 100.0
    assert [f["function"] for f in waker["stack"]] == [
        "asm_sysvec_apic_timer_interrupt", "hrtimer_interrupt", "hrtimer_wakeup", "try_to_wake_up"]
    (thread,) = run_json(capsys, "threads", str(nap_rec))["threads"]
    assert thread["wakers"] == [{"pid": None, "tid": None, "name": "[timer interrupt]", "count": 10,
                                 "context": "interrupt"}]
    code, out, _ = run_out(capsys, "wakers", str(nap_rec))
    assert "-- woken by [timer interrupt]: 10 of 10 spans, 1,000.0 ms (100.0%) --" in out
    assert "bystander_work" not in out


def test_render_draws_the_thread_and_wakeup_views(pingpong_rec: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """``stax render -f threads|wakers`` builds the view the renderer declares, as the commands do."""
    for command, extra in (("threads", ()), ("wakers", ("-n", "1"))):
        code, by_command, _ = run_out(capsys, command, str(pingpong_rec), *extra)
        assert code == 0
        code, by_render, _ = run_out(capsys, "render", str(pingpong_rec), "-f", command, *extra)
        assert code == 0 and by_render == by_command
        code, rendered, _ = run_out(capsys, "render", str(pingpong_rec), "-f", f"{command}:json", *extra)
        assert code == 0 and json.loads(rendered) == run_json(capsys, command, str(pingpong_rec), *extra)
    code, _, err = run_out(capsys, "render", str(pingpong_rec), "-f", "threads:svg")
    assert code != 0 and err == "stax: Renderer 'threads' does not write 'svg'; it writes text, json.\n"


# -- no off-CPU data --------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["top", "--off-cpu"], ["flamegraph", "--off-cpu"],
                                  ["collapse", "--off-cpu"], ["wakers"], ["wakers", "--json"]])
def test_no_off_cpu_data_is_one_sentence(on_cpu_only_rec: Path, argv: list[str],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Views ranking blocked time refuse; ``wakers`` says there is nothing to show and exits 0."""
    code, out, err = run_out(capsys, argv[0], str(on_cpu_only_rec), *argv[1:])
    assert (code == 0) == (argv[0] == "wakers")
    assert err.count("\n") == 1
    assert "has no off-CPU data" in err and "stax record" in err
    if "--json" in argv:  # an empty document of the usual shape, with the sentence as a note
        data = json.loads(out)
        assert data["chain_count"] == 0 and data["chains"] == [] and data["notes"] == [err[6:-1]]
    else:
        assert out == ""


def test_no_off_cpu_data_names_the_missing_capability(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = write_recording(tmp_path / "nocap.stax", [("main;work", 10)])
    import sqlite3

    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO capabilities VALUES (?,?,?,?)",
                   ("off-CPU intervals", "unavailable", "perf_event_paranoid is 4",
                    "sudo sysctl kernel.perf_event_paranoid=1"))
    db.close()
    code, _, err = run_out(capsys, "top", str(path), "--off-cpu")
    assert code != 0 and err.count("\n") == 1
    assert "perf_event_paranoid is 4" in err and "sysctl kernel.perf_event_paranoid=1" in err


def test_no_off_cpu_data_when_recorded_with_no_off_cpu(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    path = write_recording(tmp_path / "off.stax", [("main;work", 10)])
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO meta VALUES ('backend.off_cpu', 'false')")
    db.close()
    code, _, err = run_out(capsys, "wakers", str(path))
    assert code == 0 and err.count("\n") == 1 and "recorded with --no-off-cpu" in err


# -- the real executable ---------------------------------------------------------------------------------


def test_real_executable(nap_rec: Path, pingpong_rec: Path) -> None:
    proc = subprocess.run([STAX, "top", str(nap_rec), "--off-cpu", "--json"], capture_output=True,
                          text=True, check=True)
    nap = {f["function"]: f for f in json.loads(proc.stdout)["functions"]}["nap"]
    assert nap["blocked_ms"] == 1000.0 and nap["reasons"] == {"sleep": SECOND}
    proc = subprocess.run([STAX, "wakers", str(pingpong_rec), "-n", "1"], capture_output=True,
                          text=True, check=True)
    assert "woken by writer-202" in proc.stdout
    proc = subprocess.run([STAX, "threads", str(pingpong_rec)], capture_output=True, text=True,
                          check=True)
    assert "reader" in proc.stdout and "writer-202 x196" in proc.stdout
    proc = subprocess.run([STAX, "--help"], capture_output=True, text=True, check=True)
    assert "threads" in proc.stdout and "wakers" in proc.stdout
