"""Fixtures for the Linux backend tests: compiled workloads and a list-collecting sink.

Workloads are the C files in workloads/, compiled once per session with frame
pointers into a world-readable temporary directory (the unprivileged test runs
them as uid 65534).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from stax.events import Event, Sample

WORKLOADS = Path(__file__).parent / "workloads"
CFLAGS = ["-O1", "-fno-omit-frame-pointer", "-g", "-pthread"]

if not sys.platform.startswith("linux"):
    pytest.skip("the Linux capture backend needs Linux", allow_module_level=True)


class ListSink:
    """An EventSink that keeps every batch, for assertions."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.batches = 0

    def consume(self, events: Sequence[Event]) -> None:
        self.batches += 1
        self.events.extend(events)

    def of(self, kind: type) -> list:
        return [e for e in self.events if type(e) is kind]

    @property
    def samples(self) -> list[Sample]:
        return self.of(Sample)


@pytest.fixture
def sink() -> ListSink:
    return ListSink()


@pytest.fixture(scope="session")
def workloads() -> Iterator[dict[str, Path]]:
    """name -> compiled executable, for every workloads/*.c."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the workloads")
    out = Path(tempfile.mkdtemp(prefix="stax-linux-workloads-"))
    out.chmod(0o755)
    built: dict[str, Path] = {}
    try:
        for source in sorted(WORKLOADS.glob("*.c")):
            exe = out / source.stem
            subprocess.run(["gcc", *CFLAGS, "-o", str(exe), str(source)], check=True)
            exe.chmod(0o755)
            built[source.stem] = exe
        yield built
    finally:
        shutil.rmtree(out, ignore_errors=True)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (kernel stacks, -a, setpriv)")
