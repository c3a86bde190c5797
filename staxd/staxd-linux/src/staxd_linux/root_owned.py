"""Whether the code the staxd unit would run as root can be changed by anyone but root.

``stax setup`` writes a unit whose ExecStart is this installation's interpreter and
console script.  If a user owns (or may write) any directory on the way to them, or
any file Python would import from, that user can replace the code and so run
anything as root: a venv in someone's home is the common case.  So every path
component of the interpreter and the script (and of the targets of any symlinks
on the way), and every file and directory under the import path the daemon will
have, must be owned by root and writable by nobody else.

Two exceptions follow the kernel's own rules.  A directory writable by group 0
(root) only is fine.  A sticky world-writable directory such as /tmp is fine *on
the way to* a root-owned entry (only the owner may rename or remove an entry
there), but not as a place Python imports from (anyone could add a module).
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs


@attrs.frozen(slots=True)
class Unsafe:
    """A path someone other than root could change; ``who`` is that someone, ``why`` how."""

    path: Path
    why: str
    who: str


def _user(uid: int) -> str:
    try:
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f"uid {uid}"


def _group(gid: int) -> str:
    try:
        return f"group {gid} ({grp.getgrgid(gid).gr_name})"
    except KeyError:
        return f"group {gid}"


def _unsafe(path: Path, st: os.stat_result, *, on_the_way: bool) -> Unsafe | None:
    if st.st_uid != 0:
        return Unsafe(path, f"is owned by {_user(st.st_uid)}", "that user")
    if stat.S_ISLNK(st.st_mode):
        return None  # a root-owned symlink cannot be changed, only replaced through its directory
    sticky_way = on_the_way and stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX
    if st.st_mode & stat.S_IWOTH and not sticky_way:
        return Unsafe(path, "is writable by every user", "any user")
    if st.st_mode & stat.S_IWGRP and st.st_gid != 0 and not sticky_way:
        return Unsafe(path, f"is writable by {_group(st.st_gid)}", "a member of that group")
    return None


def _prefixes(path: Path) -> Iterator[Path]:
    path = Path(os.path.abspath(path))
    yield from reversed(path.parents)
    yield path


def unsafe_on_the_way(path: Path) -> Unsafe | None:
    """The first component of ``path`` (and of its resolved form) that is not root's alone, or None."""
    for candidate in dict.fromkeys((Path(os.path.abspath(path)), Path(os.path.realpath(path)))):
        for prefix in _prefixes(candidate):
            try:
                st = os.lstat(prefix)
            except FileNotFoundError:
                return None  # nothing to take over: the daemon would fail to start, verify says so
            found = _unsafe(prefix, st, on_the_way=prefix != candidate)
            if found:
                return found
    return None


def unsafe_in_tree(root: Path) -> Unsafe | None:
    """``root``'s own path, then every entry under it (symlinks checked where they point)."""
    found = unsafe_on_the_way(root)
    if found or not root.is_dir():
        return found
    for directory, dirs, files in os.walk(root):
        for name in sorted(dirs) + sorted(files):
            entry = Path(directory, name)
            try:
                st = os.lstat(entry)
                found = _unsafe(entry, st, on_the_way=False)
                if not found and stat.S_ISLNK(st.st_mode):
                    found = unsafe_on_the_way(entry)
            except OSError:
                continue
            if found:
                return found
    return None


def daemon_import_path(command: list[str]) -> list[Path]:
    """Where the daemon's Python will import from: this process's sys.path, less its own first entry
    (the stax script's directory or the current directory), plus the staxd script's directory."""
    entries = [Path(p) for p in sys.path[1:] if p]
    script = Path(command[0])
    if script != Path(sys.executable) and script.parent not in entries:
        entries.insert(0, script.parent)
    return [p for p in dict.fromkeys(entries) if p.exists()]


def first_unsafe(command: list[str], python: str = sys.executable,
                 import_path: Iterable[Path] | None = None) -> Unsafe | None:
    """The first path root would trust by running ``command`` that someone else could change."""
    for path in dict.fromkeys((Path(python), Path(command[0]))):
        found = unsafe_on_the_way(path)
        if found:
            return found
    for entry in daemon_import_path(command) if import_path is None else import_path:
        found = unsafe_in_tree(entry)
        if found:
            return found
    return None
