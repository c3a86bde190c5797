"""A real process with escape-sequence names cannot write to the terminal of whoever views its profile.

The workload renames itself (prctl PR_SET_NAME) to ``ESC]0;pwned BEL ESC[2J``, names its
waker thread ``ESC[31mwaker``, and runs code from an anonymous mapping that its own perf
map names ``ESC]0;jit BEL ESC[2Jjitted``.  Recorded by the real ``stax record``, every
text view shows those names as visible ``\\x1b`` escapes, no ESC byte reaches stdout or
stderr, and ``--json`` keeps the exact thread names.  JIT names come from a file the
process wrote (often in /tmp), so they are escaped already when the perf map is read
(stax_symbols.perf_map_file): the recording, and so the JSON, holds them escaped.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import WORKLOADS, stax
from tests.conftest import compile_c

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for perf_event_open")

COMM = "\x1b]0;pwned\x07\x1b[2J"
WAKER = "\x1b[31mwaker"
JIT = "\x1b]0;jit\x07\x1b[2Jjitted"
ESCAPED_COMM = "\\x1b]0;pwned\\x07\\x1b[2J"
ESCAPED_WAKER = "\\x1b[31mwaker"
ESCAPED_JIT = "\\x1b]0;jit\\x07\\x1b[2Jjitted"


@pytest.fixture(scope="module")
def evil_recording(bin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """(recording, what `stax record` printed on stderr); the workload's perf map is removed after."""
    binary = compile_c(WORKLOADS / "escape_names.c", bin_dir / "escape_names",
                       "-O1", "-g", "-fno-omit-frame-pointer", "-pthread")
    rec = tmp_path_factory.mktemp("escapes") / "escapes.stax"
    proc = stax("record", "-o", str(rec), "--", str(binary), "1.5")
    db = sqlite3.connect(rec)
    target = json.loads(db.execute("SELECT value FROM meta WHERE key='backend.target_pid'").fetchone()[0])
    db.close()
    yield rec, proc.stdout + proc.stderr
    Path(f"/tmp/perf-{target}.map").unlink(missing_ok=True)


def _no_escape(output: str, what: str) -> None:
    assert "\x1b" not in output, f"a raw ESC reached the output of {what}"
    assert "\x07" not in output and "\x9b" not in output, what


def test_record_output_has_no_escape(evil_recording: tuple[Path, str]) -> None:
    _no_escape(evil_recording[1], "stax record")


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (("top", "-n", "-1"), (ESCAPED_COMM, ESCAPED_WAKER, ESCAPED_JIT)),
        (("top", "--off-cpu", "-n", "-1"), (ESCAPED_COMM, ESCAPED_WAKER)),
        (("collapse", "--per-thread"), ("\\x1b]0:pwned\\x07\\x1b[2J-", "\\x1b]0:jit\\x07\\x1b[2Jjitted")),
        (("collapse", "--off-cpu", "--per-thread"), (ESCAPED_WAKER,)),
        (("threads",), (ESCAPED_COMM, ESCAPED_WAKER)),
        (("wakers", "-n", "-1"), (ESCAPED_COMM, ESCAPED_WAKER)),
        (("flamegraph", "--output=-"), (ESCAPED_JIT,)),
        (("top", "--comm", COMM), (ESCAPED_COMM,)),
    ],
    ids=["top", "top-off-cpu", "collapse", "collapse-off-cpu", "threads", "wakers", "flamegraph",
         "top-comm-filter"],
)
def test_views_show_names_escaped(evil_recording: tuple[Path, str], argv: tuple[str, ...],
                                  shown: tuple[str, ...]) -> None:
    proc = stax(argv[0], str(evil_recording[0]), *argv[1:])
    _no_escape(proc.stdout, f"stax {argv[0]} (stdout)")
    _no_escape(proc.stderr, f"stax {argv[0]} (stderr)")
    for name in shown:
        assert name in proc.stdout, f"{name} not in stax {' '.join(argv)}:\n{proc.stdout[:2000]}"


def test_json_keeps_the_exact_names(evil_recording: tuple[Path, str]) -> None:
    top = json.loads(stax("top", str(evil_recording[0]), "--json", "-n", "-1").stdout)
    assert ESCAPED_JIT in {f["function"] for f in top["functions"]}  # escaped as the map was read
    assert {COMM, WAKER} <= {t["name"] for t in top["threads"]}
    threads = json.loads(stax("threads", str(evil_recording[0]), "--json").stdout)
    assert {COMM, WAKER} <= {t["name"] for t in threads["threads"]}
