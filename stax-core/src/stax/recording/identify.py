"""Whether a file is a stax recording, without trusting it: the test before one is replaced.

An output that already exists is kept as ``NAME.old`` (stax.old_outputs), but only a
recording may stand where a recording is written without ``--force``, and a view's output
never replaces one.  A recorder that was killed leaves the application id only in its
``-wal`` file (the main file's header still says 0), so such a file is asked through SQLite.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from stax.recording.schema import APPLICATION_ID

SQLITE_MAGIC = b"SQLite format 3\x00"
APPLICATION_ID_OFFSET = 68
"""Where the SQLite file header keeps ``PRAGMA application_id`` (big-endian, 4 bytes)."""


def is_recording(path: Path) -> bool:
    """True when ``path`` is a regular file holding a stax recording (finished, or left by a killed
    recorder); a symbolic link is not (replacing it replaces the link, not what it names)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        head = os.pread(fd, APPLICATION_ID_OFFSET + 4, 0)
    except OSError:
        return False
    finally:
        os.close(fd)
    if not head.startswith(SQLITE_MAGIC) or len(head) < APPLICATION_ID_OFFSET + 4:
        return False
    if int.from_bytes(head[APPLICATION_ID_OFFSET:], "big") == APPLICATION_ID:
        return True
    if not os.path.isfile(f"{path}-wal"):
        return False
    try:  # a killed recorder: the header with its id is still in the write-ahead log
        db = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True)
        try:
            return db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        finally:
            db.close()
    except sqlite3.Error:
        return False
