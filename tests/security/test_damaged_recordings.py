"""Every view command on damaged recordings: one sentence or a clean view, never a traceback or a hang.

Copies of two small real recordings (on-CPU; off-CPU with wakeups and counters) and
of one as a killed recorder leaves it are damaged deterministically
(tests/security/damaged_recordings.py): stack cycles, dangling ids, bad enums, bad
JSON, invalid UTF-8, ``end < start``, negative weights, huge ids, values of the wrong
type, truncations, byte flips and zeroed pages.  Every view command runs on every
copy with a timeout and a memory limit (tests/security/view_runner.py).  A view
either works or says one sentence (exit status != 0, one line on stderr); damage
to what a view reads must be named as damage; JSON output never holds a negative
figure (the silently wrong answers of ``end < start``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.security.damaged_recordings import (
    ALL,
    ANY,
    COUNTERS,
    FILTERED,
    OFF_CPU,
    OFF_CPU_STACKS,
    OFF_CPU_THREADS,
    ON_CPU,
    ON_CPU_STACKS,
    WAKERS,
    WAKEUPS,
    Damaged,
    byte_damage,
    targeted,
    write_bases,
)
from tests.security.view_runner import ViewResult, run_views

TIMEOUT_S = 20.0

OUT = "{out}"
VIEWS: list[tuple[str, ...]] = [
    ("top",),
    ("top", "--json"),
    ("top", "-p", "100,200"),
    ("top", "--off-cpu"),
    ("top", "--off-cpu", "--json"),
    ("flamegraph", "-o", OUT + ".svg"),
    ("flamegraph", "--off-cpu", "--inverted", "-o", OUT + ".off.svg"),
    ("collapse", "--per-thread", "--annotate"),
    ("collapse", "--off-cpu", "--by-reason"),
    ("threads",),
    ("threads", "--json"),
    ("wakers",),
    ("wakers", "--json"),
    ("render", "--format", "top:text"),
    ("render", "--format", "top:json", "--off-cpu"),
    ("render", "--format", "flamegraph:svg", "-o", OUT + ".render.svg"),
    ("render", "--format", "collapsed:folded", "--tid", "101,201,202"),
    ("export", "-f", "pprof", "-o", OUT + ".pb.gz"),
    ("export", "-f", "speedscope", "-o", OUT + ".speedscope.json"),
    ("export", "-f", "firefox", "-o", OUT + ".firefox.json"),
    ("export", "-f", "folded", "--annotate"),
    ("annotate", "--json"),
    ("annotate", "--off-cpu"),
]

READERS = {
    ALL: lambda view: True,
    ON_CPU: lambda view: "--off-cpu" not in view and view[0] != "wakers",
    ON_CPU_STACKS: lambda view: "--off-cpu" not in view and view[0] not in ("threads", "wakers"),
    OFF_CPU: lambda view: "--off-cpu" in view or view[0] in ("threads", "wakers"),
    OFF_CPU_THREADS: lambda view: ("--off-cpu" in view and view[0] != "annotate")
    or view[0] in ("threads", "wakers"),
    OFF_CPU_STACKS: lambda view: "--off-cpu" in view or view[0] == "wakers",
    WAKEUPS: lambda view: view[0] in ("threads", "wakers"),
    WAKERS: lambda view: view[0] == "wakers",
    COUNTERS: lambda view: view[0] == "threads",
    FILTERED: lambda view: "-p" in view or "--tid" in view,
    ANY: lambda view: False,
}
"""Which views read the damaged data, and so must refuse the file as damaged."""


def must_refuse(copy: Damaged, view: tuple[str, ...]) -> bool:
    """Whether ``view`` must name the damage in ``copy``; an off-CPU view of a recording
    without off-CPU data may say that instead, if it reads nothing damaged to find out."""
    if copy.name.startswith("on-cpu") and not READERS[ON_CPU](view):
        return False
    return READERS[copy.scope](view)


def _argv(view: tuple[str, ...], path: Path) -> list[str]:
    out = str(path.with_suffix(""))
    return [view[0], str(path), *(arg.replace(OUT, out) for arg in view[1:])]


def _negative_figures(value: object, where: str = "") -> list[str]:
    """Negative times, weights or counts (ids such as a pid are not figures)."""
    if isinstance(value, bool) or where.endswith(("pid", "tid")):
        return []
    if isinstance(value, int | float):
        return [f"{where}={value}"] if value < 0 else []
    if isinstance(value, dict):
        return [bad for k, v in value.items() for bad in _negative_figures(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [bad for i, v in enumerate(value) for bad in _negative_figures(v, f"{where}[{i}]")]
    return []


def problem(result: ViewResult, must_refuse: bool) -> str | None:
    """What is wrong with one view's outcome, or None."""
    if result.timed_out:
        return "hung (timeout)"
    if result.error:
        return "traceback: " + result.error.strip().splitlines()[-1]
    if "Traceback" in result.stderr:
        return "traceback on stderr"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if result.rc != 0:
        if len(lines) != 1 or not lines[0].startswith("stax: "):
            return f"exit {result.rc} without one sentence: {result.stderr!r}"
        if must_refuse and "damaged" not in lines[0]:
            return f"not named as damage: {lines[0]}"
        return None
    if must_refuse:
        return "showed a damaged recording without a word"
    if "--json" in result.argv or "top:json" in result.argv:
        negative = _negative_figures(json.loads(result.stdout))
        if negative:
            return f"negative figures in the output: {negative[:3]}"
    return None


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], list[Damaged]]:
    root = tmp_path_factory.mktemp("damaged")
    bases = write_bases(root)
    (root / "t").mkdir()
    (root / "b").mkdir()
    copies = [*targeted(bases, root / "t"), *byte_damage(bases, root / "b")]
    return bases, copies


def test_every_view_on_every_damaged_recording(damaged: tuple[dict[str, Path], list[Damaged]]) -> None:
    bases, copies = damaged
    cases = [(copy, view) for copy in copies for view in VIEWS]
    results = run_views([_argv(view, copy.path) for copy, view in cases], timeout=TIMEOUT_S)
    failures = []
    for (copy, view), result in zip(cases, results, strict=True):
        found = problem(result, must_refuse(copy, view))
        if found:
            failures.append(f"{copy.name}: stax {' '.join(view)}: {found}")
    kinds = Counter(f.rsplit(": ", 2)[-1].split(":")[0].split(" (")[0] for f in failures)
    assert not failures, (f"{len(failures)} of {len(cases)} views failed on {len(copies)} damaged"
                          f" copies ({dict(kinds)}):\n" + "\n".join(failures[:60]))


def test_the_undamaged_recordings_show_cleanly(damaged: tuple[dict[str, Path], list[Damaged]]) -> None:
    """The views work on the originals, so every refusal above is about the damage."""
    bases, _ = damaged
    cases = [(name, view) for name, path in bases.items() for view in VIEWS]
    results = run_views([_argv(view, bases[name]) for name, view in cases], timeout=TIMEOUT_S)
    for (name, view), result in zip(cases, results, strict=True):
        assert problem(result, False) is None, (name, view, result)
        if name != "on-cpu":  # the on-CPU recording has no off-CPU data: one sentence says so
            assert result.rc == 0, (name, view, result.stderr)
