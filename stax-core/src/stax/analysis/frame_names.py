"""The one place the analyses take frame names from a recording: demangled, inlines kept or folded.

Every view (top, flamegraph, collapse, threads, wakers, annotate, the exports, the web UI)
builds its frames from :func:`frame_labels` and :func:`inline_details` here, never from the
reader's methods directly, so a name is shown the same way everywhere: demangled
(:mod:`stax.analysis.demangle`) unless :attr:`FrameStyle.demangle` is off
(``--no-demangle``), with the calls inlined at an address as frames of their own unless
:attr:`FrameStyle.inline` is off (``--no-inline``: perf's default presentation, where
an inlined call's time belongs to the function it was inlined into).  The recording
keeps the raw names; only what is shown changes.
"""

from __future__ import annotations

import attrs

from stax.analysis.demangle import demangle
from stax.recording.reader import FrameLabel, Recording


@attrs.frozen(slots=True)
class FrameStyle:
    """How frames are shown: names demangled or as recorded; inlined calls as frames or folded;
    one frame per function or per function and source line."""

    demangle: bool = True
    """C++ and Rust names demangled (``--no-demangle`` turns it off)."""
    inline: bool = True
    """Calls inlined at an address shown as frames above their caller (``--no-inline``: folded)."""
    lines: bool = False
    """A frame per function and source line (``stax top --lines``) rather than per function."""

    def name(self, raw: str) -> str:
        """``raw`` as these options show it."""
        return demangle(raw) if self.demangle else raw


DEFAULT_STYLE = FrameStyle()


def frame_labels(recording: Recording, style: FrameStyle = DEFAULT_STYLE) -> list[FrameLabel]:
    """One label per frame id of ``recording`` (index = frame id), named as ``style`` says."""
    labels = recording.frame_labels()
    if not style.demangle and style.inline:
        return labels
    show = style.name
    labels = [
        attrs.evolve(label, name=show(label.name) if label.resolved else label.name,
                     inlined=tuple(show(n) for n in label.inlined) if style.inline else ())
        for label in labels
    ]
    if style.lines and not style.inline:
        # folded inlines: the line is where the address is (the innermost inlined call's), as
        # perf's srcline says, not the call site in the function they were folded into
        for frame_id, rows in recording.inline_details().items():
            if 0 <= frame_id < len(labels) and rows and rows[0][1]:
                labels[frame_id] = attrs.evolve(labels[frame_id], file=rows[0][1], line=rows[0][2])
    return labels


def inline_details(recording: Recording,
                   style: FrameStyle = DEFAULT_STYLE) -> dict[int, list[tuple[str, str | None, int | None]]]:
    """frame id -> (function, file, line) of each call inlined there, innermost first, named as
    ``style`` says (none when inlines are folded): :meth:`Recording.inline_details` for the views."""
    if not style.inline:
        return {}
    details = recording.inline_details()
    if not style.demangle:
        return details
    return {frame: [(demangle(f), file, line) for f, file, line in rows] for frame, rows in details.items()}
