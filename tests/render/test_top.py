"""The ``top`` renderer: ranks, percentages, header, JSON shape."""

from __future__ import annotations

import io
import json
from pathlib import Path

from stax.analysis.profile import Profile
from stax.contracts import RenderOptions
from stax_render.top import TopRenderer


def render(rec: Path, **options: object) -> str:
    out = io.StringIO()
    TopRenderer().render(Profile.from_path(rec), RenderOptions(**options), out)
    return out.getvalue()


def test_text_table_ranks_by_self(hot_rec: Path) -> None:
    text = render(hot_rec)
    assert "# samples: 1,000" in text
    assert "lost: 0" in text
    rows = [line.split() for line in text.splitlines() if line[:4].strip().isdigit()]
    assert [r[-2] for r in rows[:2]] == ["hot_a", "hot_b"]
    assert rows[0][:3] == ["1", "75.00%", "750"]
    assert rows[1][:3] == ["2", "25.00%", "250"]
    driver = next(r for r in rows if r[-2] == "driver")
    assert driver[3:5] == ["100.00%", "1,000"]
    assert all(r[-3] == "[.]" and r[-1] == "prog" for r in rows)


def test_limit(hot_rec: Path) -> None:
    text = render(hot_rec, limit=1)
    assert "hot_a" in text and "hot_b" not in text


def test_json(hot_rec: Path) -> None:
    data = json.loads(render(hot_rec, format="json"))
    assert data["samples"] == 1000
    functions = {f["function"]: f for f in data["functions"]}
    assert functions["hot_a"]["self_percent"] == 75.0
    assert functions["hot_b"]["self_percent"] == 25.0
    assert functions["driver"]["total_percent"] == 100.0
    assert functions["driver"]["self"] == 0
    assert set(functions["hot_a"]) >= {"function", "image", "self", "self_percent", "total",
                                       "total_percent", "is_kernel"}
    assert data["threads"] == [{"pid": 100, "tid": 100, "name": "prog", "process": "prog",
                                "samples": 1000, "percent": 100.0}]


def test_kernel_and_inline_marks_and_threads(mixed_rec: Path) -> None:
    text = render(mixed_rec, limit=-1)
    assert "[k] vfs_write" in text
    assert "[.] inner_inline (inlined)" in text
    assert "# threads: worker-a-101 75.0%, worker-b-102 25.0%" in text
    data = json.loads(render(mixed_rec, limit=-1, format="json"))
    functions = {f["function"]: f for f in data["functions"]}
    assert functions["vfs_write"]["is_kernel"] and not functions["compute"]["is_kernel"]
    assert functions["inner_inline"]["is_inline"]
    assert functions["fib"]["total"] == 100  # recursion counted once per sample


def test_capability_notes_in_header(tmp_path: Path) -> None:
    import sqlite3

    from tests.render.synthetic_recording import write_recording

    rec = write_recording(tmp_path / "n.stax", [("main", 10)])
    db = sqlite3.connect(rec)
    with db:
        db.execute("INSERT INTO capabilities VALUES ('kernel call stacks', 'unavailable',"
                   " 'perf_event_paranoid is 2', 'run stax setup')")
        db.execute("INSERT INTO lost VALUES (0, 'lost-records', 7)")
    db.close()
    text = render(rec)
    assert "# note: kernel call stacks: perf_event_paranoid is 2 (run stax setup)" in text
    assert "lost: 7" in text
