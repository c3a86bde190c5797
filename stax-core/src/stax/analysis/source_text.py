"""Source lines for annotated disassembly, read from the files debug info names, when readable.

The recording keeps file:line, not the sources (they may be large and private); a file
is read once per annotation, only when it is a regular file no larger than
:data:`MAX_SOURCE_BYTES`, and decoded leniently (a stray byte shows as U+FFFD).
"""

from __future__ import annotations

import os

MAX_SOURCE_BYTES = 4 * 1024 * 1024


class SourceFiles:
    """Path -> its lines (None when missing, unreadable, not a regular file, or too large)."""

    def __init__(self, max_bytes: int = MAX_SOURCE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._files: dict[str, list[str] | None] = {}

    def line(self, path: str | None, line: int | None) -> str | None:
        """The text of ``line`` (1-based) of ``path``, without its newline, or None."""
        if not path or not line or line < 1:
            return None
        lines = self._files.get(path, False)
        if lines is False:
            lines = self._files[path] = _read(path, self.max_bytes)
        if lines is None or line > len(lines):
            return None
        return lines[line - 1]


def _read(path: str, max_bytes: int) -> list[str] | None:
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > max_bytes:
            return None  # a FIFO or device would block or never end; checked before opening
        with open(path, "rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError:
        return None
    return data.decode("utf-8", "replace").splitlines()
