"""An output that already exists is kept as ``NAME.old`` (perf's habit), and never the wrong kind replaced.

``perf record`` renames an existing ``perf.data`` to ``perf.data.old`` before writing a
new one; stax does the same for every file it writes with ``-o`` (recordings and views),
so re-running a command never silently destroys the previous result: only the ``.old``
before it goes.  What may be moved aside is checked first:

* where a recording is written (``stax record``, ``stax import``), the existing file and
  the ``.old`` it would replace must be stax recordings: ``-o main.c`` is a typo, and is
  refused with one sentence unless ``--force`` is given;
* a view's output (``stax export``, ``flamegraph``, ``collapse``, ``render``) never
  replaces a recording, there or as the ``.old``.

An empty file (with no ``-wal`` beside it) holds nothing to keep and is simply replaced.
A recording moves with its SQLite companions (``-wal``, ``-shm``, ``-journal``): a
recorder that was killed keeps its samples in the ``-wal``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from stax.errors import UsageError
from stax.recording.identify import is_recording

OLD_SUFFIX = ".old"
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def old_path(path: Path) -> Path:
    """Where the previous output is kept: ``NAME.old`` beside it."""
    return path.with_name(path.name + OLD_SUFFIX)


def _with_companions(path: Path) -> list[Path]:
    return [path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)]


def holds_something(path: Path) -> bool:
    """True when ``path`` exists and is not an empty file with nothing in a ``-wal`` beside it."""
    try:
        if os.lstat(path).st_size > 0:
            return True
    except FileNotFoundError:
        return False
    return os.path.lexists(f"{path}-wal")


def check_recording_output(final: Path, shown: Path, force: bool) -> None:
    """Refuse, unless ``force``, to move aside a file that is not a recording, or to replace such a
    ``.old``."""
    if force or not holds_something(final):
        return
    old = old_path(final)
    shown_old = _shown_old(final, shown)
    if not is_recording(final):
        raise UsageError(f"{shown} exists and is not a stax recording, so stax will not replace it; choose"
                         f" another -o path, or add --force to keep it as {shown_old} and write there.")
    if holds_something(old) and not is_recording(old):
        raise UsageError(f"{shown_old} exists and is not a stax recording, so stax will not replace it"
                         f" with the previous {shown}; move it away, or add --force.")


def _shown_old(final: Path, shown: Path) -> str:
    """The ``.old`` as the user would name it: beside ``-o``'s path, or the link's target's."""
    return f"{shown}{OLD_SUFFIX}" if Path(os.path.abspath(shown)) == final else str(old_path(final))


def check_view_output(final: Path, shown: Path) -> None:
    """Refuse to write a view where it would replace a recording, or push one out of its ``.old``."""
    if is_recording(final):
        raise UsageError(f"{shown} is a stax recording, which a view's output never replaces; choose"
                         " another -o path.")
    if holds_something(final) and is_recording(old_path(final)):
        raise UsageError(f"{_shown_old(final, shown)} is a stax recording, which keeping the previous"
                         f" {shown} would replace; choose another -o path, or move it away.")


class KeptOutput:
    """Where :func:`keep_old` moved the previous output, and the older ``.old`` it displaced.

    The older ``.old`` is parked under a hidden name until the new output holds something
    (:meth:`settle`); a new recording that comes to nothing puts both back (:meth:`restore`),
    so a mistyped command does not cost the recording from two runs ago.
    """

    def __init__(self, final: Path, old: Path, parked: Path | None) -> None:
        self.final, self.old, self.parked = final, old, parked

    def settle(self) -> None:
        """The new output is written: the older ``.old`` goes for good."""
        if self.parked is not None:
            for path in _with_companions(self.parked):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            self.parked = None

    def restore(self) -> None:
        """The new output came to nothing: the previous one returns, and the older ``.old`` too."""
        _move(self.old, self.final)
        if self.parked is not None:
            _move(self.parked, self.old)
            self.parked = None


def _move(source: Path, target: Path) -> None:
    """rename(2) ``source`` and its SQLite companions onto ``target``'s; a companion ``target`` has
    and ``source`` lacks is removed (it would be read as part of the moved file)."""
    for src, dst in zip(_with_companions(source), _with_companions(target), strict=True):
        if os.path.lexists(src):
            os.replace(src, dst)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(dst)


def keep_old(final: Path) -> KeptOutput | None:
    """Rename ``final`` (and its SQLite companions) to ``final.old``, parking an older ``.old``.

    Returns what was moved, or None when there was nothing to keep (an empty ``final``
    is removed).  Raises OSError from rename(2).
    """
    if not holds_something(final):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(final)
        return None
    old = old_path(final)
    parked = None
    if os.path.lexists(old):
        parked = final.with_name(f".{old.name}.{secrets.token_hex(6)}.parked")
        _move(old, parked)
    _move(final, old)
    return KeptOutput(final, old, parked)
