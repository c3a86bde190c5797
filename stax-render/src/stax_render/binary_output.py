"""How a renderer writes a binary format (pprof's gzipped protobuf) to the stream stax hands it.

Renderers are handed a text stream (``IO[str]``); every one stax opens -- a file from
``-o`` (:func:`stax.trusted_files.text_output`), ``/dev/stdout``, the standard output --
has the byte stream under it as ``.buffer``.  The text side is flushed first so the bytes
land after anything already written.  A terminal is refused: binary output there is noise.
"""

from __future__ import annotations

from typing import IO

from stax.errors import StaxError


def write_binary(data: bytes, out: IO[str], what: str) -> None:
    """Write ``data`` to ``out``'s byte stream; ``what`` names the format in the refusal."""
    buffer = getattr(out, "buffer", None)
    if buffer is None or out.isatty():
        raise StaxError(f"{what} output is binary; write it to a file with -o FILE.")
    out.flush()
    buffer.write(data)
    buffer.flush()
