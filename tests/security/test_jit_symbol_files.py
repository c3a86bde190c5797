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
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest

from stax.recording.sample_sql import connect
from tests.conftest import compile_c
from tests.security.planted_files import NOBODY, OTHER_UID, as_user, needs_root, needs_setpriv, stax
from tests.symbols.jit.test_jitdump_reader import DumpWriter

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


@attrs.frozen
class Outcome:
    target: Target
    path: Path
    stderr: str
    seconds: float
    names: dict[str, int]
    """Function name -> samples, over the leaf frames in the anonymous (JIT) image."""
    samples: int


def record_beside(
    jit_spin: Path, kind: str, tmp_path: Path, cleanup: list[Path], *, target_uid: int = 0,
    owner: int = 0, entries: Callable[[Target], list[tuple[int, int, str]]] | None = None,
    make: Callable[[Path], None] | None = None,
) -> Outcome:
    """Start the target as ``target_uid``, plant its file (``entries`` owned by ``owner``,
    or whatever ``make`` puts there) in /tmp, and ``stax record -p`` it for a second."""
    recording = tmp_path / "rec.stax"
    with running(jit_spin, target_uid) as target:
        path = planted_path(kind, target.pid)
        cleanup.append(path)
        if make is not None:
            make(path)
        else:
            assert entries is not None
            path.write_bytes(contents(kind, target.pid, entries(target)))
            os.chown(path, owner, owner)
        started = time.monotonic()
        proc = stax("record", "-p", str(target.pid), "-d", "1", "-o", str(recording), timeout=30,
                    cwd=tmp_path)
        seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    with connect(recording) as db:
        names = dict(db.execute(
            "SELECT coalesce(f.function, '?'), count(*) FROM samples s JOIN stacks st ON st.id = s.stack_id"
            " JOIN frames f ON f.id = st.frame_id JOIN images i ON i.id = f.image_id"
            " WHERE i.kind = 'jit' GROUP BY 1"))
        samples = db.execute("SELECT count(*) FROM samples").fetchone()[0]
    return Outcome(target, path, proc.stderr, seconds, names, samples)


def hot_code(name: str) -> Callable[[Target], list[tuple[int, int, str]]]:
    return lambda target: [(target.address, target.size, name)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("uid", [0, NOBODY])
def test_a_file_of_the_targets_own_user_still_names_its_jit_code(
        kind: str, uid: int, jit_spin: Path, tmp_path: Path, cleanup: list[Path]) -> None:
    out = record_beside(jit_spin, kind, tmp_path, cleanup, target_uid=uid, owner=uid,
                        entries=hot_code(HOT_NAME))
    assert out.names.get(HOT_NAME, 0) > 0.8 * sum(out.names.values()), out.names
    assert "skipped" not in out.stderr


def _fifo_of_nobody(path: Path) -> None:
    os.mkfifo(path)
    os.chown(path, NOBODY, NOBODY)


@pytest.mark.parametrize("kind", KINDS)
def test_a_fifo_is_skipped_in_seconds_with_one_sentence(
        kind: str, jit_spin: Path, tmp_path: Path, cleanup: list[Path]) -> None:
    out = record_beside(jit_spin, kind, tmp_path, cleanup, make=_fifo_of_nobody)
    assert out.seconds < 15
    assert (f"JIT frames of pid {out.target.pid} stay unnamed because stax skipped {out.path}: it is a"
            " FIFO, not a regular file" if kind == "perf-map" else
            f"JIT frames stay unnamed because stax skipped {out.path}: it is a FIFO, not a regular file"
            ) in out.stderr
    assert out.samples > 100


def _link_to_dev_zero(path: Path) -> None:
    subprocess.run(as_user(NOBODY, ["ln", "-s", "/dev/zero", str(path)]), check=True)


@pytest.mark.parametrize("kind", KINDS)
def test_a_link_to_dev_zero_is_not_followed(
        kind: str, jit_spin: Path, tmp_path: Path, cleanup: list[Path]) -> None:
    out = record_beside(jit_spin, kind, tmp_path, cleanup, make=_link_to_dev_zero)
    assert out.seconds < 15
    assert f"stax skipped {out.path}: it is a symbolic link (stax does not follow links there)" in out.stderr
    assert "failed" not in out.stderr  # no source died of MemoryError
    assert out.samples > 100


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("target_uid", "owner"), [(NOBODY, OTHER_UID), (0, NOBODY)])
def test_a_file_of_another_user_is_not_read(
        kind: str, target_uid: int, owner: int, jit_spin: Path, tmp_path: Path,
        cleanup: list[Path]) -> None:
    out = record_beside(jit_spin, kind, tmp_path, cleanup, target_uid=target_uid, owner=owner,
                        entries=hot_code("planted"))
    expected = " or ".join(f"uid {u}" for u in sorted({0, target_uid}))
    assert f"stax skipped {out.path}: it is owned by uid {owner}, not by {expected}" in out.stderr
    assert "planted" not in out.names


def _ranges_past_2_64(kind: str) -> Callable[[Target], list[tuple[int, int, str]]]:
    def entries(target: Target) -> list[tuple[int, int, str]]:
        out = [(target.address, target.size, HOT_NAME), ((1 << 64) - 0x10, 0x100, "wraps_past_2_64")]
        if kind == "perf-map":  # later entries win: a range over all memory would rename everything
            return [*out, (0, (1 << 64) - 1, "covers_everything"), (1 << 64, 0x10, "starts_past_2_64")]
        return [*out, ((1 << 64) - 0x40, 0x2000, "moved_past_2_64")]  # a move of the hot code
    return entries


@pytest.mark.parametrize("kind", KINDS)
def test_ranges_past_two_to_the_64_or_over_everything_are_dropped(
        kind: str, jit_spin: Path, tmp_path: Path, cleanup: list[Path]) -> None:
    out = record_beside(jit_spin, kind, tmp_path, cleanup, entries=_ranges_past_2_64(kind))
    assert set(out.names) == {HOT_NAME}, out.names
    if kind == "jitdump":
        assert f"{out.path} has 2 damaged code records (sizes or names that do not fit)" in out.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_escape_sequences_in_names_are_escaped_when_read(
        kind: str, jit_spin: Path, tmp_path: Path, cleanup: list[Path]) -> None:
    out = record_beside(jit_spin, kind, tmp_path, cleanup, target_uid=NOBODY, owner=NOBODY,
                        entries=hot_code(ESCAPED_NAME))
    assert "\\x1b]0;pwned\\x07\\x1b[2Jspin_code" in out.names, out.names  # stored escaped
    assert not any("\x1b" in name or "\x07" in name for name in out.names)
