"""/tmp/perf-PID.map and jit-PID.dump planted by another user, read by root's ``stax record``.

A real JIT-like target (workloads/jit_spin.c runs a loop it copied into anonymous executable
memory) is recorded with ``stax record -p PID``, so its hot frame is a JIT frame that the
perf-map and jitdump sources are asked to name.  Beside it in ``/tmp``, under the target's
real pid: a FIFO (once hung stax for good), a link to /dev/zero (once read until memory
ran out), a file of another uid, ranges past 2^64 or over the whole address space, names
with terminal escapes.  Each must end in seconds with one sentence or a named, escaped,
bounded result; a file of the target's own user is still used (the control).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest

from tests.conftest import compile_c
from tests.security.planted_files import NOBODY, OTHER_UID, as_user, needs_root, needs_setpriv, stax
from tests.symbols.test_jitdump_reader import DumpWriter

pytestmark = [needs_root, needs_setpriv]

WORKLOAD = Path(__file__).resolve().parent / "workloads" / "jit_spin.c"
KINDS = ["perf-map", "jitdump"]
ESCAPED_NAME = "\x1b]0;pwned\x07\x1b[2Jspin_code"
HOT_NAME = "spin_code"


@attrs.frozen
class Target:
    pid: int
    address: int
    size: int
    uid: int


@pytest.fixture(scope="module")
def jit_spin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("jit-spin")
    os.chmod(directory, 0o755)
    os.chmod(directory.parent, 0o755)  # uid 65534 must reach the binary
    return compile_c(WORKLOAD, directory / "jit_spin", "-O1")


@contextmanager
def running(binary: Path, uid: int) -> Iterator[Target]:
    argv = [str(binary)] if uid == 0 else as_user(uid, [str(binary)])
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=binary.parent) as proc:
        try:
            assert proc.stdout is not None
            pid, address, size = proc.stdout.readline().split()
            yield Target(int(pid), int(address, 16), int(size, 16), uid)
        finally:
            proc.kill()


@pytest.fixture
def cleanup() -> Iterator[list[Path]]:
    planted: list[Path] = []
    yield planted
    for path in planted:
        path.unlink(missing_ok=True)


def planted_path(kind: str, pid: int) -> Path:
    return Path(f"/tmp/perf-{pid}.map") if kind == "perf-map" else Path(f"/tmp/jit-{pid}.dump")


def contents(kind: str, pid: int, entries: list[tuple[int, int, str]]) -> bytes:
    """A perf map or a jitdump holding ``(start, size, name)`` entries, in that order."""
    if kind == "perf-map":
        return "".join(f"{start:x} {size:x} {name}\n" for start, size, name in entries).encode()
    writer = DumpWriter(pid=pid)
    for start, size, name in entries:
        if size <= 0x1000:
            writer.load(start, size, name)
        else:  # a range no load could carry code for: a move of the first load there
            writer.move(entries[0][0], start, size, 1)
    return writer.bytes()


def plant(kind: str, target: Target, data: bytes, owner: int, cleanup: list[Path]) -> Path:
    path = planted_path(kind, target.pid)
    cleanup.append(path)
    path.write_bytes(data)
    os.chown(path, owner, owner)
    return path


def record(target: Target, out: Path, timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    proc = stax("record", "-p", str(target.pid), "-d", "1", "-o", str(out), timeout=timeout, cwd=out.parent)
    return proc, time.monotonic() - started


def jit_names(recording: Path) -> dict[str, int]:
    """Function name -> samples, over frames of the per-process anonymous (JIT) image."""
    with sqlite3.connect(recording) as db:
        return dict(db.execute(
            "SELECT coalesce(f.function, '?'), count(*) FROM samples s JOIN stacks st ON st.id = s.stack_id"
            " JOIN frames f ON f.id = st.frame_id JOIN images i ON i.id = f.image_id"
            " WHERE i.kind = 'jit' GROUP BY 1"))


def sample_count(recording: Path) -> int:
    with sqlite3.connect(recording) as db:
        return db.execute("SELECT count(*) FROM samples").fetchone()[0]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("uid", [0, NOBODY])
def test_a_file_of_the_targets_own_user_still_names_its_jit_code(
        kind: str, uid: int, jit_spin: Path, tmp_path: Path, cleanup: list[Path]) -> None:
    with running(jit_spin, uid) as target:
        plant(kind, target, contents(kind, target.pid, [(target.address, target.size, HOT_NAME)]),
              uid, cleanup)
        proc, _ = record(target, tmp_path / "rec.stax")
    assert proc.returncode == 0, proc.stderr
    names = jit_names(tmp_path / "rec.stax")
    assert names.get(HOT_NAME, 0) > 0.8 * sum(names.values()), names
    assert "skipped" not in proc.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_a_fifo_is_skipped_in_seconds_with_one_sentence(
        kind: str, jit_spin: Path, tmp_path: Path, cleanup: list[Path]) -> None:
    with running(jit_spin, 0) as target:
        path = planted_path(kind, target.pid)
        cleanup.append(path)
        os.mkfifo(path)
        os.chown(path, NOBODY, NOBODY)
        proc, seconds = record(target, tmp_path / "rec.stax", timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert seconds < 15
    assert (f"JIT frames of pid {target.pid} stay unnamed because stax skipped {path}: it is a FIFO,"
            " not a regular file" if kind == "perf-map" else
            f"JIT frames stay unnamed because stax skipped {path}: it is a FIFO, not a regular file"
            ) in proc.stderr
    assert sample_count(tmp_path / "rec.stax") > 100


@pytest.mark.parametrize("kind", KINDS)
def test_a_link_to_dev_zero_is_not_followed(
        kind: str, jit_spin: Path, tmp_path: Path, cleanup: list[Path]) -> None:
    with running(jit_spin, 0) as target:
        path = planted_path(kind, target.pid)
        cleanup.append(path)
        subprocess.run(as_user(NOBODY, ["ln", "-s", "/dev/zero", str(path)]), check=True)
        proc, seconds = record(target, tmp_path / "rec.stax", timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert seconds < 15
    assert f"stax skipped {path}: it is a symbolic link (stax does not follow links there)" in proc.stderr
    assert "failed" not in proc.stderr  # no source died of MemoryError
    assert sample_count(tmp_path / "rec.stax") > 100


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("target_uid", "owner"), [(NOBODY, OTHER_UID), (0, NOBODY)])
def test_a_file_of_another_user_is_not_read(
        kind: str, target_uid: int, owner: int, jit_spin: Path, tmp_path: Path,
        cleanup: list[Path]) -> None:
    with running(jit_spin, target_uid) as target:
        path = plant(kind, target, contents(kind, target.pid, [(target.address, target.size, "planted")]),
                     owner, cleanup)
        proc, _ = record(target, tmp_path / "rec.stax")
    assert proc.returncode == 0, proc.stderr
    expected = " or ".join(f"uid {u}" for u in sorted({0, target_uid}))
    assert f"stax skipped {path}: it is owned by uid {owner}, not by {expected}" in proc.stderr
    assert "planted" not in jit_names(tmp_path / "rec.stax")


@pytest.mark.parametrize("kind", KINDS)
def test_ranges_past_two_to_the_64_or_over_everything_are_dropped(
        kind: str, jit_spin: Path, tmp_path: Path, cleanup: list[Path]) -> None:
    with running(jit_spin, 0) as target:
        entries = [(target.address, target.size, HOT_NAME),
                   ((1 << 64) - 0x10, 0x100, "wraps_past_2_64")]
        if kind == "perf-map":  # later entries win: a range over all memory would rename everything
            entries += [(0, (1 << 64) - 1, "covers_everything"), (1 << 64, 0x10, "starts_past_2_64")]
        else:  # a move of the hot code to the top of the address space
            entries += [((1 << 64) - 0x40, 0x2000, "moved_past_2_64")]
        path = plant(kind, target, contents(kind, target.pid, entries), 0, cleanup)
        proc, _ = record(target, tmp_path / "rec.stax")
    assert proc.returncode == 0, proc.stderr
    names = jit_names(tmp_path / "rec.stax")
    assert set(names) == {HOT_NAME}, names
    if kind == "jitdump":
        assert f"{path} has 2 damaged code records (sizes or names that do not fit)" in proc.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_escape_sequences_in_names_are_escaped_when_read(
        kind: str, jit_spin: Path, tmp_path: Path, cleanup: list[Path]) -> None:
    with running(jit_spin, NOBODY) as target:
        plant(kind, target, contents(kind, target.pid, [(target.address, target.size, ESCAPED_NAME)]),
              NOBODY, cleanup)
        proc, _ = record(target, tmp_path / "rec.stax")
    assert proc.returncode == 0, proc.stderr
    names = jit_names(tmp_path / "rec.stax")
    assert "\\x1b]0;pwned\\x07\\x1b[2Jspin_code" in names, names  # stored escaped, as written
    assert not any("\x1b" in name or "\x07" in name for name in names)
