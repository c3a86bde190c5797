"""Names from a recording, made safe to print on a terminal.

Thread names (``comm``, set by any process with ``prctl(PR_SET_NAME)``), symbol names
(from perf maps, jitdumps, ELF files) and image paths are chosen by whoever wrote the
profiled program, which may be another user.  Printed raw, ``ESC]0;...BEL`` retitles
root's terminal and ``ESC[2J`` clears it; some terminals do worse.  So every text
view passes such strings through :func:`printable`, which writes each control
character as a visible ``\\xHH`` escape instead.

Escaped: C0 (U+0000-U+001F, tab and newline included, so a name cannot break a table
line), DEL (U+007F) and C1 (U+0080-U+009F, which some terminals read as 8-bit
``CSI``/``OSC``).  ``\\x1b`` is four characters: a backslash, ``x``, ``1``, ``b``.
Backslashes themselves are left as they are, so the escape reads the same as in C or
Python source; an escaped name is for reading, not for parsing back.

JSON output does not use this: ``json.dump`` (``ensure_ascii``, the default) already
writes these characters as ``\\u001b``, and a JSON consumer wants the exact name.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}


def printable(text: str) -> str:
    """``text`` with every C0, DEL and C1 control character written as ``\\xHH``."""
    if _CONTROL.search(text) is None:  # the usual case: nothing to copy
        return text
    return text.translate(_ESCAPES)
