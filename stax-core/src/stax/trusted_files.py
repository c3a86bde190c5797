"""Files and directories another user may have planted, opened the way stax running as root must.

stax often runs as root and reads or writes in places other users can write: perf maps
and jitdumps in ``/tmp``, a cache directory that fell back to ``/tmp``, an ``-o`` path in
a shared directory.  A FIFO there hangs an ``open``, a link to ``/dev/zero`` never ends,
a link to ``/etc/...`` makes root overwrite it, and a directory another user owns can
hand root code to load.  So (docs/architecture.md, "Files from other users"):

* **Reading** (:func:`open_owned_file`): opened with ``O_NOFOLLOW|O_NONBLOCK`` (a link is
  refused, a FIFO cannot block), then it must be a regular file owned by one of the
  expected uids and no larger than a stated bound.
* **Private directories** (:func:`private_dir`): code and cached data are kept only in a
  directory that is ours, mode 0700, not a link, under parents nobody else can rename.
* **Writing** (:func:`recording_output`, :func:`text_output`): only regular files are
  created or replaced; a device, FIFO or socket is never unlinked or renamed over (a view
  writes through a character device such as ``/dev/null``, as perf does); a symbolic link
  is followed only when it is ours or root's, never when another user planted it.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import stat
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import IO

from stax.errors import StaxError
from stax.old_outputs import KeptOutput, check_recording_output, check_view_output, keep_old

READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
MAX_LINKS = 40
"""Symbolic links followed for one output path, as the kernel's own limit."""


class UntrustedFile(Exception):
    """A file stax will not read; ``reason`` completes "PATH ..." (e.g. "is a FIFO, not a regular file")."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path} {reason}")
        self.path = str(path)
        self.reason = reason


class UnsafeOutputError(StaxError):
    """An output path stax will not write (a device for a recording, another user's link)."""


def kind_of(mode: int) -> str:
    """What a file is, in words: "a FIFO", "a character device", ..."""
    for test, name in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _size(n: int) -> str:
    return f"{n / (1 << 20):,.0f} MiB" if n >= 1 << 20 else f"{n:,} bytes"


# -- reading -------------------------------------------------------------------------------------


def open_owned_file(path: str | Path, owners: Collection[int], max_bytes: int) -> io.BufferedReader:
    """Open ``path`` for reading if it is a regular file owned by one of ``owners``, at most ``max_bytes``.

    Raises :class:`UntrustedFile` saying why not, or ``OSError`` (e.g. FileNotFoundError).
    The caller must still stop reading at ``max_bytes``: the owner may append meanwhile.
    """
    try:
        fd = os.open(path, READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UntrustedFile(path, "is a symbolic link (stax does not follow links there)") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UntrustedFile(path, f"is {kind_of(st.st_mode)}, not a regular file")
        if st.st_uid not in owners:
            expected = " or ".join(f"uid {u}" for u in sorted(owners))
            raise UntrustedFile(path, f"is owned by uid {st.st_uid}, not by {expected}")
        if st.st_size > max_bytes:
            raise UntrustedFile(path, f"is {_size(st.st_size)}, more than the {_size(max_bytes)} stax reads")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


PROCESS_OWNERS_OPTION = "process_owners"
"""``SymbolContext.options`` key: ``{pid: (uid, ...)}``, the uids each recorded process ran as."""


def process_uids(pid: int) -> frozenset[int] | None:
    """The real, effective, saved and filesystem uids of ``pid`` now (Linux /proc); None if unknown."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"Uid:"):
                    return frozenset(int(u) for u in line.split()[1:5])
    except (OSError, ValueError):
        pass
    return None


def expected_owners(pid: int, options: Mapping[str, object]) -> frozenset[int]:
    """Who may own the files a process writes for profilers (perf map, jitdump): root and its uids.

    The uids come from ``options[PROCESS_OWNERS_OPTION]`` (recorded while the process ran);
    for a process not recorded there, perf's own rule: root or the user running stax.
    """
    recorded = options.get(PROCESS_OWNERS_OPTION)
    uids = recorded.get(pid) if isinstance(recorded, Mapping) else None
    if not uids:
        return frozenset({0, os.geteuid()})
    return frozenset({0, *uids})


# -- private directories -------------------------------------------------------------------------


def private_dir(path: Path) -> bool:
    """Make ``path`` if missing and say whether code and cached data may be kept in it.

    True when it is a directory (not a link) owned by us with mode 0700 (a looser mode
    on our own directory is tightened), and no parent can be written by another user
    without the sticky bit (else they could rename ours away and put theirs in its place).
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            return False
        if stat.S_IMODE(st.st_mode) != 0o700:
            os.fchmod(fd, 0o700)
    except OSError:
        return False
    finally:
        os.close(fd)
    return all(_safe_parent(parent) for parent in Path(os.path.abspath(path)).parents)


def _safe_parent(directory: Path) -> bool:
    try:
        st = os.stat(directory)
    except OSError:
        return False
    if st.st_uid not in (0, os.geteuid()):
        return False
    return not (st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)) or bool(st.st_mode & stat.S_ISVTX)


# -- writing -------------------------------------------------------------------------------------


def _trusted_link_owner(uid: int) -> bool:
    return uid in (0, os.geteuid())


def _cannot(verb: str, path: Path, exc: OSError) -> UnsafeOutputError:
    return UnsafeOutputError(f"Cannot {verb} {path} ({exc.strerror}); choose another -o path.")


def _own_fd(path: Path) -> int | None:
    """N when ``path`` is one of our own descriptors, ``/proc/PID/fd/N`` (``/dev/stdout``'s target)."""
    if path.name.isdigit() and os.path.realpath(path.parent) == f"/proc/{os.getpid()}/fd":
        return int(path.name)
    return None


def _resolve_output(path: Path, stop_at_fd: bool = False) -> tuple[Path, os.stat_result | None]:
    """Follow the links of an output path that we may follow; (final path, its stat or None).

    A link owned by another user is refused whether or not its target exists.  A link
    whose text names no file but which the kernel still resolves (``/proc/self/fd/1`` of
    a pipe) is a /proc magic link: it is the final path, with the kernel's stat; with
    ``stop_at_fd`` so is every link to one of our own descriptors.
    """
    current = Path(os.path.abspath(path))
    for _ in range(MAX_LINKS):
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return current, None
        except OSError as exc:
            raise _cannot("write", path, exc) from None
        if not stat.S_ISLNK(st.st_mode):
            return current, st
        if not _trusted_link_owner(st.st_uid):
            target = os.readlink(current)
            raise UnsafeOutputError(
                f"{current} is a symbolic link (to {target}) owned by uid {st.st_uid}, another user,"
                " so stax will not write through it; remove it or choose another -o path."
            )
        following = current.parent / os.readlink(current)
        if not os.path.lexists(following) or (stop_at_fd and _own_fd(current) is not None):
            with contextlib.suppress(OSError):
                return current, os.stat(current)  # a /proc magic link (a pipe, a socket)
        current = following
    raise UnsafeOutputError(f"{path} is a chain of over {MAX_LINKS} symbolic links; choose another -o path.")


def recording_output(path: Path, force: bool = False) -> tuple[Path, KeptOutput | None]:
    """Make ``path`` ready for a new recording; return the real path SQLite should create, and
    where the previous file was kept (``NAME.old``; settle or restore it when done).

    A recording is a SQLite file, so it can only be a regular file: an old recording
    (with its ``-wal``/``-shm``/``-journal`` companions) is kept as ``NAME.old``
    (:mod:`stax.old_outputs`; another kind of file only with ``force``) and an empty file
    created in its place (``O_EXCL|O_NOFOLLOW``); anything else is refused with one sentence.
    """
    final, st = _resolve_output(path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise UnsafeOutputError(f"{path} is a directory; give -o a file path, e.g. -o {path}/stax.stax.")
        raise UnsafeOutputError(
            f"{path} is {kind_of(st.st_mode)}, not a file; a recording is a SQLite file, so give -o"
            " a file path (e.g. -o rec.stax)."
        )
    companions = [final.with_name(final.name + s) for s in ("-wal", "-shm", "-journal")]
    for companion in companions:
        try:
            cst = os.lstat(companion)
        except FileNotFoundError:
            continue
        except OSError:
            continue  # the create below reports an unusable directory
        if not stat.S_ISREG(cst.st_mode):
            raise UnsafeOutputError(
                f"{companion} is {kind_of(cst.st_mode)} where SQLite keeps the recording's"
                f" {companion.name.rsplit('-', 1)[1]} file; remove it or choose another -o path."
            )
    if st is not None:
        check_recording_output(final, path, force)
    try:
        kept = keep_old(final) if st is not None else None
        for old in companions:  # left by a recording whose main file is gone
            with contextlib.suppress(FileNotFoundError):
                os.unlink(old)
        os.close(os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666))
    except OSError as exc:
        raise _cannot("create", path, exc) from None
    return final, kept


@contextlib.contextmanager
def text_output(path: Path) -> Iterator[IO[str]]:
    """Write a view's output to ``path``: a regular file is written whole, or not at all.

    New and regular files: a temporary file beside it (``O_EXCL|O_NOFOLLOW``, a random
    name) renamed into place when done, so a failure leaves the old file; an existing
    one is kept as ``NAME.old`` (never a recording: :mod:`stax.old_outputs`).  A character
    device (``/dev/null``, a terminal) or a FIFO of ours is written through, as perf does,
    never replaced; ``/dev/stdout`` and ``/dev/fd/N`` write to that descriptor itself (so
    a shell's ``>>`` appends).  Others are refused with one sentence.
    """
    final, st = _resolve_output(path, stop_at_fd=True)
    descriptor = _own_fd(final)
    if descriptor is not None:
        try:
            with open(os.dup(descriptor), "w", encoding="utf-8", newline="\n") as handle:
                yield handle
        except OSError as exc:
            raise _cannot("write", path, exc) from None
        return
    if st is not None and not stat.S_ISREG(st.st_mode):
        through = stat.S_ISCHR(st.st_mode) or (stat.S_ISFIFO(st.st_mode) and _trusted_link_owner(st.st_uid))
        if not through:
            owner = f" owned by uid {st.st_uid}" if stat.S_ISFIFO(st.st_mode) else ""
            raise UnsafeOutputError(
                f"{path} is {kind_of(st.st_mode)}{owner}, which stax does not write into;"
                " give -o a file path."
            )
        try:
            fd = os.open(final, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
            with open(fd, "w", encoding="utf-8", newline="\n") as handle:
                yield handle
        except OSError as exc:  # /dev/full says ENOSPC
            raise _cannot("write", path, exc) from None
        return
    if st is not None:
        check_view_output(final, path)
    tmp = final.with_name(f".{final.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise _cannot("write", path, exc) from None
    try:
        with open(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
        kept = keep_old(final) if st is not None else None  # perf's habit: the previous one stays as NAME.old
        os.replace(tmp, final)
        if kept is not None:
            kept.settle()
    except OSError as exc:
        raise _cannot("write", path, exc) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
