"""Frame colours: one hue family per kind of code, a stable shade per function name.

User code is warm (red to yellow), kernel code cool (blue), inlined code green,
and frames that could not be named grey, so the kinds are told apart at a
glance; the shade comes from a CRC of the name so a function keeps its colour
from one graph to the next.
"""

from __future__ import annotations

import zlib

from stax.analysis.profile import DisplayFrame

HIGHLIGHT = "rgb(230,0,230)"
ROOT_COLOUR = "rgb(200,200,200)"

LEGEND = (("user", "rgb(240,130,40)"), ("kernel", "rgb(90,150,230)"),
          ("inlined", "rgb(70,190,120)"), ("unresolved", "rgb(170,170,170)"))


def _shades(name: str) -> tuple[float, float, float]:
    h = zlib.crc32(name.encode("utf-8", "replace"))
    return (h & 0xFF) / 255, ((h >> 8) & 0xFF) / 255, ((h >> 16) & 0xFF) / 255


def frame_colour(frame: DisplayFrame) -> str:
    """The fill for one frame, as ``rgb(r,g,b)``."""
    a, b, c = _shades(frame.name)
    if frame.is_inline:
        r, g, bl = 40 + 60 * a, 170 + 50 * b, 90 + 60 * c
    elif frame.is_kernel:
        r, g, bl = 60 + 60 * a, 120 + 60 * b, 200 + 55 * c
    elif not frame.resolved:
        grey = 150 + 50 * a
        r, g, bl = grey, grey, grey
    else:
        r, g, bl = 210 + 45 * a, 60 + 170 * b, 30 + 40 * c
    return f"rgb({int(r)},{int(g)},{int(bl)})"


REASON_COLOURS = {
    "sleep": (80, 140, 220),
    "lock": (220, 70, 60),
    "disk-io": (210, 140, 40),
    "network": (140, 90, 200),
    "pipe-ipc": (60, 170, 100),
    "poll": (40, 170, 180),
    "page-fault": (180, 170, 40),
    "preempted": (150, 150, 150),
    "other": (175, 140, 120),
}
"""Off-CPU views colour by what the thread waited for: one hue per blocked reason."""

UNKNOWN_REASON_COLOUR = (190, 190, 190)


def reason_colour(reason: str) -> str:
    """The legend colour of a blocked reason, as ``rgb(r,g,b)``."""
    r, g, b = REASON_COLOURS.get(reason, UNKNOWN_REASON_COLOUR)
    return f"rgb({r},{g},{b})"


def reason_frame_colour(reason: str | None, frame: DisplayFrame) -> str:
    """A frame of the off-CPU flame graph: its reason's hue, a stable shade per name.

    Kernel frames are drawn lighter so the user part of a blocked stack stands out.
    """
    r, g, b = REASON_COLOURS.get(reason or "", UNKNOWN_REASON_COLOUR)
    a, _, _ = _shades(frame.name)
    shift = -25 + 40 * a
    if frame.is_kernel:
        shift += 30
    return "rgb({},{},{})".format(*(max(0, min(255, int(c + shift))) for c in (r, g, b)))
