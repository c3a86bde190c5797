"""The ``collapsed`` renderer: folded lines flamegraph.pl and inferno accept."""

from __future__ import annotations

import io
import re
from pathlib import Path

from stax.analysis.profile import Profile
from stax.contracts import RenderOptions
from stax_render.collapsed import CollapsedRenderer

# flamegraph.pl's own parse of a folded line: everything up to the last run of spaces, a count.
FOLDED_LINE = re.compile(r"^(\S.*?)\s+(\d+)$")


def render(rec: Path, **extra: object) -> list[str]:
    out = io.StringIO()
    CollapsedRenderer().render(Profile.from_path(rec), RenderOptions(extra=extra), out)
    return out.getvalue().splitlines()


def test_hot_lines(hot_rec: Path) -> None:
    assert render(hot_rec) == ["main;driver;hot_a 750", "main;driver;hot_b 250"]


def test_lines_parse_and_sum(mixed_rec: Path) -> None:
    lines = render(mixed_rec)
    total = 0
    for line in lines:
        match = FOLDED_LINE.match(line)
        assert match, line
        total += int(match.group(2))
    assert total == 1000
    assert "main;work;sys_write;vfs_write 200" in lines
    assert "main;helper;outer_inline;inner_inline 50" in lines
    assert "main;fib;fib;fib 100" in lines


def test_annotations(mixed_rec: Path) -> None:
    lines = render(mixed_rec, annotate=True)
    assert "main;work;sys_write_[k];vfs_write_[k] 200" in lines
    assert "main;helper;outer_inline_[i];inner_inline_[i] 50" in lines
    assert "main;work;compute 600" in lines


def test_semicolons_in_names_are_replaced(mixed_rec: Path) -> None:
    assert 'main;parse<a:b>&"q" 50' in render(mixed_rec)


def test_per_thread_prefix(mixed_rec: Path) -> None:
    lines = render(mixed_rec, per_thread=True)
    assert "worker-a-101;main;work;compute 600" in lines
    assert "worker-b-102;main;work;sys_write;vfs_write 200" in lines
    assert sum(int(line.rsplit(" ", 1)[1]) for line in lines) == 1000
