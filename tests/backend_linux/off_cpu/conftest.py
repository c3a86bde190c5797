"""Synthetic off-CPU recordings shared by the off-CPU view tests (see synthetic_off_cpu.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backend_linux.off_cpu.synthetic_off_cpu import write_nap_recording, write_pingpong_recording


@pytest.fixture(scope="session")
def nap_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_nap_recording(tmp_path_factory.mktemp("nap") / "nap.stax")


@pytest.fixture(scope="session")
def pingpong_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pingpong_recording(tmp_path_factory.mktemp("pingpong") / "pingpong.stax")
