"""``-o`` as root: devices are never unlinked or renamed over, another user's links never followed.

``stax record -o`` writes only a regular file: a character device is refused in one
sentence and left as it was.  The views (``flamegraph``, ``collapse``, ``render``) write
through a character device (``/dev/null``, ``/dev/stdout``) as perf does, never replacing
it.  A link uid 65534 planted in a sticky shared directory, pointing at a file under
/etc or at a name there that does not exist yet, is refused and the file is untouched.

Old code unlinked or renamed over the device it was given, so the device tests first use
a private node with the same numbers (``mknod``) and only then the machine's own (never
run ``test_collapse_to_dev_stdout_reaches_the_pipe_or_appends`` against such code: it has no copy).
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compile_c
from tests.security.planted_files import (
    NOBODY,
    STAX,
    device_copy,
    is_char_device,
    needs_root,
    needs_setpriv,
    plant_symlink,
    shared_dir,
    stax,
)

pytestmark = [needs_root, needs_setpriv]

SPIN = Path(__file__).resolve().parents[1] / "cli" / "workloads" / "spin_forever.c"
VIEWS = {
    "flamegraph": ["flamegraph"],
    "collapse": ["collapse"],
    "render": ["render", "--format", "top"],
}


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("output-paths")
    spinner = compile_c(SPIN, directory / "spin_forever", "-O1", "-fno-omit-frame-pointer")
    rec = directory / "rec.stax"
    proc = stax("record", "-d", "0.5", "-o", str(rec), "--", str(spinner))
    assert proc.returncode == 0, proc.stderr
    return rec


@pytest.fixture
def etc_file() -> Iterator[Path]:
    """A root-owned file under /etc that a planted link points at (removed afterwards)."""
    path = Path(f"/etc/stax-test-{secrets.token_hex(4)}")
    path.write_text("root's file\n")
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture
def sticky_dir() -> Iterator[Path]:
    with shared_dir("stax-out-") as path:
        yield path


def _one_sentence(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_record_refuses_a_character_device_and_leaves_it(tmp_path: Path) -> None:
    for device in (device_copy("/dev/full", tmp_path), Path("/dev/full")):
        proc = stax("record", "-o", str(device), "--", "true")
        assert proc.returncode == 1
        assert _one_sentence(proc.stderr) == (
            f"stax: {device} is a character device, not a file; a recording is a SQLite file,"
            " so give -o a file path (e.g. -o rec.stax).")
        assert is_char_device(device, "/dev/full")


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_views_write_through_a_character_device(view: str, recording: Path, tmp_path: Path) -> None:
    for device in (device_copy("/dev/null", tmp_path), Path("/dev/null")):
        proc = stax(*VIEWS[view], str(recording), "-o", str(device))
        assert proc.returncode == 0, proc.stderr
        assert is_char_device(device, "/dev/null")
        assert not list(device.parent.glob(f".{device.name}.*"))  # no temporary left beside it


def test_collapse_to_dev_stdout_reaches_the_pipe_or_appends(recording: Path, tmp_path: Path) -> None:
    proc = stax("collapse", str(recording), "-o", "/dev/stdout")
    assert proc.returncode == 0, proc.stderr
    assert "spin_here" in proc.stdout
    log = tmp_path / "log"
    log.write_text("first\n")
    with open(log, "a") as appended:  # a shell's >>: written to the descriptor, not replaced
        proc = subprocess.run([STAX, "collapse", str(recording), "-o", "/dev/fd/1"], stdout=appended,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = log.read_text()
    assert text.startswith("first\n") and "spin_here" in text
    assert os.path.islink("/dev/stdout") and os.path.islink("/dev/fd")


def _refusal(link: Path, target: Path) -> str:
    return (f"stax: {link} is a symbolic link (to {target}) owned by uid {NOBODY}, another user,"
            " so stax will not write through it; remove it or choose another -o path.")


@pytest.mark.parametrize("command", ["record", *sorted(VIEWS)])
def test_another_users_link_to_a_file_under_etc_is_refused(
        command: str, recording: Path, etc_file: Path, sticky_dir: Path) -> None:
    link = sticky_dir / "out"
    plant_symlink(link, str(etc_file))
    args = ["record", "-o", str(link), "--", "true"] if command == "record" else \
        [*VIEWS[command], str(recording), "-o", str(link)]
    proc = stax(*args)
    assert proc.returncode == 1
    assert _one_sentence(proc.stderr) == _refusal(link, etc_file)
    assert etc_file.read_text() == "root's file\n"
    assert os.readlink(link) == str(etc_file)  # the link is left for its owner to remove


@pytest.mark.parametrize("command", ["record", *sorted(VIEWS)])
def test_another_users_dangling_link_is_not_followed(
        command: str, recording: Path, etc_file: Path, sticky_dir: Path) -> None:
    missing = etc_file.with_name(etc_file.name + "-created")
    link = sticky_dir / "out"
    plant_symlink(link, str(missing))
    args = ["record", "-o", str(link), "--", "true"] if command == "record" else \
        [*VIEWS[command], str(recording), "-o", str(link)]
    try:
        proc = stax(*args)
        assert proc.returncode == 1
        assert _one_sentence(proc.stderr) == _refusal(link, missing)
        assert not missing.exists()
    finally:
        missing.unlink(missing_ok=True)


def test_another_users_link_at_the_wal_file_is_refused(etc_file: Path, sticky_dir: Path) -> None:
    wal = sticky_dir / "rec.stax-wal"
    plant_symlink(wal, str(etc_file))
    proc = stax("record", "-o", str(sticky_dir / "rec.stax"), "--", "true")
    assert proc.returncode == 1
    assert _one_sentence(proc.stderr) == (
        f"stax: {wal} is a symbolic link where SQLite keeps the recording's wal file; remove it"
        " or choose another -o path.")
    assert etc_file.read_text() == "root's file\n"


@pytest.mark.parametrize("command", ["record", *sorted(VIEWS)])
def test_our_own_link_is_followed_and_kept(command: str, recording: Path, tmp_path: Path) -> None:
    target = tmp_path / "written"
    target.write_text("old\n")
    link = tmp_path / "link"
    link.symlink_to(target)
    # (a file that is not a recording is replaced by a recording only with --force)
    args = ["record", "--force", "-d", "0.2", "-o", str(link), "--", "sleep", "1"] if command == "record" \
        else [*VIEWS[command], str(recording), "-o", str(link)]
    proc = stax(*args)
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and stat.S_ISREG(os.lstat(target).st_mode)
    assert target.read_bytes() != b"old\n"
    assert (tmp_path / "written.old").read_text() == "old\n"  # the link's target is kept beside it
