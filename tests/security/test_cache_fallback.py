"""The cache fallback directory made by another user: root's ``stax record`` must not run its code.

When the user cache directory cannot be made (here: ``XDG_CACHE_HOME`` under /dev/null),
stax falls back to ``$TMPDIR/stax-cache-UID``.  uid 65534 makes that directory first
(``TMPDIR`` is a private sticky directory, so the real /tmp is left alone) and plants a
shared object at the exact name the compiled record decoder is loaded from; its
constructor would create a marker file.  The recording must come out right, with the
compiled decoder built for this run only, and root must write nothing into that directory.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sysconfig
from pathlib import Path

import pytest

from stax.recording.sample_sql import connect
from stax_backend_linux.decode import fast_decode_build
from tests.conftest import compile_c
from tests.security.planted_files import NOBODY, needs_root, shared_dir, stax

pytestmark = needs_root

SPIN = Path(__file__).resolve().parents[1] / "cli" / "workloads" / "spin_forever.c"
PLANTED = """\
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void planted(void) {
    int fd = open("%s", O_WRONLY | O_CREAT, 0644);
    if (fd >= 0) close(fd);
}
"""


@pytest.fixture(scope="module")
def spinner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_c(SPIN, tmp_path_factory.mktemp("spin") / "spin_forever", "-O1", "-fno-omit-frame-pointer")


def _env(tmpdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("STAX_CACHE_DIR", "STAX_PURE_PYTHON", "STAX_NO_ENTRY_POINT_CACHE")}
    env["XDG_CACHE_HOME"] = "/dev/null/cache"  # the user cache directory cannot be made
    env["TMPDIR"] = str(tmpdir)
    return env


def _files(directory: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(directory)): (p.lstat().st_uid, p.lstat().st_size)
            for p in sorted(directory.rglob("*"))}


def _record(spinner: Path, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return stax("record", "-d", "1", "-o", str(out), "--", str(spinner), env=env, cwd=out.parent)


def _check_recording(recording: Path) -> None:
    with connect(recording) as db:
        samples = db.execute("SELECT count(*) FROM samples").fetchone()[0]
        decoder = db.execute("SELECT value FROM meta WHERE key = 'backend.decoder'").fetchone()[0]
        hot = db.execute(
            "SELECT count(*) FROM samples s JOIN stacks st ON st.id = s.stack_id"
            " JOIN frames f ON f.id = st.frame_id WHERE f.function = 'spin_here'").fetchone()[0]
    assert samples > 300
    assert hot > 0.8 * samples
    assert decoder == '"compiled"'  # built all the same, in a directory of this run


def test_another_users_fallback_dir_runs_no_code_and_gets_no_files(spinner: Path, tmp_path: Path) -> None:
    with shared_dir("stax-tmpdir-") as tmpdir:
        fallback = tmpdir / f"stax-cache-{os.geteuid()}"
        decoder_dir = fallback / "fast_decode"
        decoder_dir.mkdir(parents=True)
        marker = tmp_path / "planted-code-ran"
        (tmp_path / "planted.c").write_text(PLANTED % marker)
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        compile_c(tmp_path / "planted.c", decoder_dir / f"{fast_decode_build.module_name()}{suffix}",
                  "-shared", "-fPIC")
        for path in (fallback, decoder_dir, *decoder_dir.iterdir()):
            os.chown(path, NOBODY, NOBODY)
            os.chmod(path, 0o777 if path.is_dir() else 0o755)
        before = _files(fallback)

        proc = _record(spinner, tmp_path / "rec.stax", _env(tmpdir))

        assert proc.returncode == 0, proc.stderr
        assert not marker.exists(), "stax loaded the shared object another user planted"
        assert _files(fallback) == before  # no cache, symbols or entry points written there
        assert not list(tmpdir.glob("stax-run-*"))  # this run's own build directory is gone
    _check_recording(tmp_path / "rec.stax")


def test_a_fallback_dir_of_our_own_is_made_private_and_used(spinner: Path, tmp_path: Path) -> None:
    with shared_dir("stax-tmpdir-") as tmpdir:
        proc = _record(spinner, tmp_path / "rec.stax", _env(tmpdir))
        assert proc.returncode == 0, proc.stderr
        fallback = tmpdir / f"stax-cache-{os.geteuid()}"
        st = os.lstat(fallback)
        assert stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) == 0o700
        assert list((fallback / "fast_decode").glob(f"{fast_decode_build.module_name()}*"))
        assert list(fallback.glob("symbols-v*.sqlite"))
    _check_recording(tmp_path / "rec.stax")
