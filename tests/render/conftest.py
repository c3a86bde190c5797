"""Recordings shared by the renderer and view-command tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.render.synthetic_recording import write_recording

HOT_STACKS = [("main;driver;hot_a", 750), ("main;driver;hot_b", 250)]


@pytest.fixture(scope="session")
def hot_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """750 samples in main;driver;hot_a and 250 in main;driver;hot_b."""
    return write_recording(tmp_path_factory.mktemp("hot") / "hot.stax", HOT_STACKS)


@pytest.fixture(scope="session")
def mixed_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two threads, kernel frames, an inline chain, recursion and an odd name."""
    return write_recording(
        tmp_path_factory.mktemp("mixed") / "mixed.stax",
        [
            ("main;work;compute", 600, 101),
            ("main;work;sys_write;vfs_write", 200, 102),
            ("main;fib;fib;fib", 100, 101),
            ("main;parse", 50, 102),
            ("main;helper", 50, 101),
        ],
        kernel={"sys_write", "vfs_write"},
        inlines={"helper": ("inner_inline", "outer_inline")},
        threads={100: "mixed", 101: "worker-a", 102: "worker-b"},
        rename={"parse": 'parse<a;b>&"q"'},
    )
