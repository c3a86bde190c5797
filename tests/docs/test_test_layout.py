"""tests/ mirrors the distributions: every test directory is one docs/architecture.md names.

A new area of tests is added to the table in the same change, so a reader looking for
the tests of a module finds them by its path.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def documented_dirs() -> set[str]:
    """``tests/X`` and ``tests/X/Y`` for each row ``| `tests/X/` (`Y/`, ...) | ...`` of the Tests table."""
    text = (REPO / "docs" / "architecture.md").read_text()
    section = text.split("\n## Tests\n", 1)[1].split("\n## ", 1)[0]
    found = set()
    for row in section.splitlines():
        if row.startswith("| `tests/"):
            for top, subs in re.findall(r"`tests/(\w+)/`(?: \(([^)]*)\))?", row.split("|")[1]):
                found.add(top)
                found.update(f"{top}/{sub}" for sub in re.findall(r"`(\w+)/`", subs))
    return found


def test_dirs_with_tests() -> None:
    """Every directory holding tests (two levels deep) is in the table, and the table names no other."""
    dirs = set()
    for test in (REPO / "tests").rglob("test_*.py"):
        parts = test.parent.relative_to(REPO / "tests").parts
        if parts:
            dirs.add(parts[0])
        if len(parts) > 1 and parts[0] != "plugins" and parts[1] not in ("workloads", "programs"):
            dirs.add(f"{parts[0]}/{parts[1]}")
    documented = documented_dirs()
    missing = sorted(dirs - documented)
    assert not missing, f"test directories missing from docs/architecture.md's Tests table: {missing}"
    stale = sorted(d for d in documented if not (REPO / "tests" / d).is_dir())
    assert not stale, f"the Tests table names directories that do not exist: {stale}"
