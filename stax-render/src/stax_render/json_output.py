"""How every renderer with a ``json`` format writes it: indented (exports: compact), one trailing newline.

Names stay exact in JSON (``json.dump`` escapes control characters as ``\\u001b``), so
JSON output does not go through :func:`stax.text_safety.printable`.
"""

from __future__ import annotations

import json
from typing import IO


def write_json(data: object, out: IO[str], compact: bool = False) -> None:
    """``compact`` for files made for another tool (speedscope, the Firefox Profiler): no spaces."""
    if compact:
        json.dump(data, out, separators=(",", ":"))
    else:
        json.dump(data, out, indent=2)
    out.write("\n")
