"""The SVG document of a flame graph: header, controls, legend, one group per frame.

The document is standalone (style and script inline, no external resources) and
well-formed XML whatever the function names hold: names, paths and titles have their
control characters written as ``\\xHH`` (:func:`stax.text_safety.printable`, as in the
text views, so search matches what ``stax top`` shows), then are XML-escaped.  Each frame is a
``<g data-s="first unit" data-n="units">`` with a ``<title>`` (name, amount,
image: the hover tooltip), a ``<rect>`` and a ``<text>``; ``flamegraph.js`` reads
those to zoom and search.  What a unit is, how frames are coloured and what the
tooltip and legend say come from a :class:`FlameStyle`: samples by kind of code
for on-CPU graphs (:class:`SampleStyle`), blocked time by reason for off-CPU ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources
from typing import IO, Protocol

from stax.analysis.call_tree import TREE_ROOT, CallTree
from stax.analysis.profile import DisplayFrame, Profile
from stax.contracts import RenderOptions
from stax.text_safety import printable
from stax_render.count_text import count_text
from stax_render.flamegraph_layout import FlameRect, fit_text, layout
from stax_render.palette import HIGHLIGHT, LEGEND, ROOT_COLOUR, frame_colour

WIDTH = 1200
XPAD = 10
FRAME_HEIGHT = 16
TOP_PAD = 56
BOTTOM_PAD = 34
FONT_SIZE = 12
CHAR_WIDTH = FONT_SIZE * 0.59
MIN_WIDTH_PX = 0.1
"""Subtrees narrower than this are not drawn; it keeps 10k-stack graphs small."""

# XML 1.0 forbids these code points even when escaped (symbol names can hold anything).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_STYLE = """
text { font-family: Verdana, sans-serif; font-size: FONT_SIZEpx; fill: rgb(0,0,0); }
#title { text-anchor: middle; font-size: 17px; }
#subtitle { text-anchor: middle; fill: rgb(80,80,80); }
.button { cursor: pointer; fill: rgb(40,40,160); }
.button:hover { text-decoration: underline; }
#frames g { cursor: pointer; }
#frames rect { stroke: rgb(255,255,255); stroke-width: 0.5; }
#frames g:hover rect { stroke: rgb(0,0,0); stroke-width: 0.8; }
#frames g.i rect { stroke-dasharray: 2,1; stroke: rgb(0,90,40); }
#frames text { pointer-events: none; }
.hide { display: none; }
.parent { opacity: 0.5; }
""".replace("FONT_SIZE", str(FONT_SIZE))


_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def _text(value: str) -> str:
    """``value`` as XML character data (also safe inside a double-quoted attribute)."""
    return _NOT_XML.sub("\ufffd", value).translate(_ESCAPES)


class FlameStyle(Protocol):
    """What a flame graph measures and how it looks: widths, colours, tooltip lines, legend."""

    unit: str
    """What the widths count, for the search line (``Matched: 12% of samples``)."""
    widths: Sequence[int]
    """Width of every tree node, in units."""
    legend: Sequence[tuple[str, str]]
    """(label, colour) pairs drawn at the bottom."""
    subtitle: str
    root_info: str
    """The tooltip of the root frame (``all samples``)."""

    def colour(self, node: int, frame: DisplayFrame) -> str: ...

    def amount(self, node: int, width: int, percent: float) -> str:
        """The tooltip line giving a frame's size, e.g. ``1,234 samples, 12.34%``."""
        ...


class SampleStyle:
    """On-CPU graphs: widths are samples, colours by kind of code (user, kernel, inlined)."""

    unit = "samples"
    legend = LEGEND
    root_info = "all samples"

    def __init__(self, tree: CallTree, profile: Profile) -> None:
        self.widths = tree.total_count
        duration = "" if profile.duration_ns is None else f", {profile.duration_ns / 1e9:.3f} s"
        self.subtitle = f"{profile.source}: {count_text(tree.sample_count, 'sample')}{duration}"

    def colour(self, node: int, frame: DisplayFrame) -> str:
        return frame_colour(frame)

    def amount(self, node: int, width: int, percent: float) -> str:
        return f"{count_text(width, 'sample')}, {percent:.2f}%"


def write_svg(tree: CallTree, profile: Profile, options: RenderOptions, out: IO[str],
              style: FlameStyle | None = None) -> None:
    """Write the whole SVG document for ``tree`` (on-CPU samples unless ``style`` says otherwise)."""
    style = style if style is not None else SampleStyle(tree, profile)
    widths = style.widths
    total = widths[TREE_ROOT]
    plot_width = WIDTH - 2 * XPAD
    scale = plot_width / total if total else 0.0
    rects = layout(tree, MIN_WIDTH_PX / scale if scale else 0.0, widths)
    max_depth = max((r.depth for r in rects), default=0)
    height = TOP_PAD + (max_depth + 1) * FRAME_HEIGHT + BOTTOM_PAD
    inverted = tree.inverted
    title = options.title or ("Icicle Graph (inverted: callees first)" if inverted else "Flame Graph")
    subtitle = style.subtitle + (" (incomplete recording)" if profile.incomplete else "")
    script = resources.files("stax_render").joinpath("flamegraph.js").read_text("utf-8")
    script = script.replace("HIGHLIGHT_COLOUR", HIGHLIGHT)
    if "]]>" in script:  # would end the CDATA section early
        raise AssertionError("flamegraph.js must not contain ']]>'")

    w = out.write
    w('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n')
    w(f'<svg version="1.1" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}"'
      f' viewBox="0 0 {WIDTH} {height}" data-xpad="{XPAD}" data-plot-width="{plot_width}"'
      f' data-total="{total}" data-unit="{_text(style.unit)}" data-inverted="{1 if inverted else 0}"'
      f' data-char-width="{CHAR_WIDTH:.2f}">\n')
    w(f"<style>{_STYLE}</style>\n")
    w(f"<script><![CDATA[\n{script}]]></script>\n")
    w(f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="rgb(248,248,244)"/>\n')
    w(f'<text id="title" x="{WIDTH / 2}" y="22">{_text(printable(title))}</text>\n')
    w(f'<text id="subtitle" x="{WIDTH / 2}" y="40">{_text(printable(subtitle))}</text>\n')
    w(f'<text id="unzoom" class="button hide" x="{XPAD}" y="22">Reset Zoom</text>\n')
    w(f'<text id="search" class="button" x="{WIDTH - XPAD - 110}" y="22">Search</text>\n')
    x = XPAD
    for label, colour in style.legend:
        w(f'<rect x="{x}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
          f'<text x="{x + 14}" y="{height - 5}">{label}</text>\n')
        x += 30 + int(len(label) * CHAR_WIDTH)
    w(f'<text id="details" x="{x + 20}" y="{height - 5}"> </text>\n')
    w(f'<text id="matched" x="{WIDTH - XPAD - 260}" y="{height - 5}"> </text>\n')
    w('<g id="frames">\n')
    percent = 100.0 / total if total else 0.0
    frames = tree.frames
    for rect in rects:
        w(_frame_element(rect, tree, frames, scale, percent, height, inverted, style))
    w("</g>\n</svg>\n")


def _frame_element(rect: FlameRect, tree: CallTree, frames: list, scale: float, percent: float,
                   height: int, inverted: bool, style: FlameStyle) -> str:
    if rect.node == TREE_ROOT:
        name, info, colour, kind = "all", style.root_info, ROOT_COLOUR, ""
    else:
        frame = frames[tree.frame[rect.node]]
        name, colour = printable(frame.name), style.colour(rect.node, frame)
        kinds = [printable(frame.image) or "?"]
        if frame.is_kernel:
            kinds.append("kernel")
        if frame.is_inline:
            kinds.append("inlined")
        info = ", ".join(kinds)
        if frame.location:  # the function's source file and its lowest sampled line
            info += "\n" + printable(frame.location)
        kind = ' class="i"' if frame.is_inline else (' class="k"' if frame.is_kernel else "")
    if inverted:
        y = TOP_PAD + rect.depth * FRAME_HEIGHT
    else:
        y = height - BOTTOM_PAD - (rect.depth + 1) * FRAME_HEIGHT
    x = XPAD + rect.start * scale
    width = rect.count * scale
    samples = _text(style.amount(rect.node, rect.count, rect.count * percent))
    return (
        f'<g{kind} data-s="{rect.start}" data-n="{rect.count}">'
        f"<title>{_text(name)}\n{samples}\n{_text(info)}</title>"
        f'<rect x="{x:.2f}" y="{y}" width="{width:.2f}" height="{FRAME_HEIGHT - 1}" fill="{colour}"/>'
        f'<text x="{x + 3:.2f}" y="{y + FRAME_HEIGHT - 4.5}">'
        f"{_text(fit_text(name, width, CHAR_WIDTH))}</text>"
        "</g>\n"
    )
