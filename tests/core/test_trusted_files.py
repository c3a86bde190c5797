"""stax.trusted_files on its own: owned regular files with a size bound, private directories.

The attacks end to end (real targets, real ``stax``) are in tests/security; these check
the rules one by one, including what the end-to-end tests do not reach (the size bound,
a parent directory another user can write).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from stax.trusted_files import (
    PROCESS_OWNERS_OPTION,
    UntrustedFile,
    expected_owners,
    open_owned_file,
    private_dir,
    process_uids,
)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chowns files to other users")
ME = os.geteuid()


def test_an_owned_regular_file_opens_and_the_size_bound_holds(tmp_path: Path) -> None:
    path = tmp_path / "map"
    path.write_bytes(b"x" * 100)
    with open_owned_file(path, {ME}, 100) as f:
        assert f.read() == b"x" * 100
    with pytest.raises(UntrustedFile) as err:
        open_owned_file(path, {ME}, 99)
    assert err.value.reason == "is 100 bytes, more than the 99 bytes stax reads"


def test_links_fifos_and_directories_are_named(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    reasons = {}
    for name in ("link", "fifo", "dir"):
        with pytest.raises(UntrustedFile) as err:
            open_owned_file(tmp_path / name, {ME}, 1 << 20)
        reasons[name] = err.value.reason
    assert reasons == {"link": "is a symbolic link (stax does not follow links there)",
                       "fifo": "is a FIFO, not a regular file",
                       "dir": "is a directory, not a regular file"}
    with pytest.raises(FileNotFoundError):
        open_owned_file(tmp_path / "missing", {ME}, 1)


@needs_root
def test_another_owner_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "map"
    path.write_text("1000 10 f\n")
    os.chown(path, 1234, 1234)
    with pytest.raises(UntrustedFile) as err:
        open_owned_file(path, {0, 65534}, 1 << 20)
    assert err.value.reason == "is owned by uid 1234, not by uid 0 or uid 65534"


def test_expected_owners_are_root_and_the_recorded_uids() -> None:
    assert expected_owners(7, {PROCESS_OWNERS_OPTION: {7: (65534,)}}) == {0, 65534}
    assert expected_owners(8, {PROCESS_OWNERS_OPTION: {7: (65534,)}}) == {0, ME}  # perf's rule
    assert expected_owners(8, {}) == {0, ME}
    assert process_uids(os.getpid()) == {os.getuid(), os.geteuid()}
    assert process_uids(2**22 + 1) is None  # above pid_max: no such process


def test_private_dir_is_made_0700_and_a_looser_own_dir_is_tightened(tmp_path: Path) -> None:
    made = tmp_path / "a" / "cache"
    assert private_dir(made)
    assert stat.S_IMODE(os.stat(made).st_mode) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o777)
    os.chmod(loose, 0o777)
    assert private_dir(loose)
    assert stat.S_IMODE(os.stat(loose).st_mode) == 0o700


def test_a_link_or_a_file_is_not_a_private_dir(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    (tmp_path / "file").write_text("")
    assert not private_dir(tmp_path / "link")
    assert not private_dir(tmp_path / "file")
    assert not private_dir(Path("/dev/null/cache"))


@needs_root
def test_another_users_dir_or_a_parent_anyone_can_rename_in_is_not_private(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    assert not private_dir(theirs)
    assert stat.S_IMODE(os.stat(theirs).st_mode) == 0o700 and os.stat(theirs).st_uid == 65534
    open_parent = tmp_path / "open"
    open_parent.mkdir()
    os.chmod(open_parent, 0o777)  # world-writable, not sticky: ours could be renamed away
    assert not private_dir(open_parent / "cache")
    os.chmod(open_parent, 0o1777)  # sticky, like /tmp
    assert private_dir(open_parent / "cache")
