"""``stax annotate``: a function's instructions with the samples (or blocked time) at each.

Builds an :class:`stax.analysis.annotation.Annotation` and hands it to the ``annotate``
renderer found through the plugin manager, like the other views.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from stax.cli.view_commands import DEFAULT_RECORDING, Selection
from stax.cli.view_inputs import no_off_cpu_data_message, say_incomplete
from stax.contracts import RenderOptions
from stax.errors import StaxError, UsageError
from stax.views import ViewKind

DEFAULT_FUNCTIONS = 3


def annotate(
    recording: Path = DEFAULT_RECORDING,
    function: str | None = None,
    /,
    *,
    address: Annotated[str | None, Parameter(name=["--address"])] = None,
    image: Annotated[str | None, Parameter(name=["--image"])] = None,
    limit: Annotated[int, Parameter(name=["-n", "--limit"])] = DEFAULT_FUNCTIONS,
    selection: Selection | None = None,
    json_output: Annotated[bool, Parameter(name="--json", negative="")] = False,
    off_cpu: Annotated[bool, Parameter(name="--off-cpu", negative="")] = False,
    demangle: Annotated[bool, Parameter(name="--demangle", negative="--no-demangle")] = True,
) -> int:
    """Show a function's instructions with the samples at each, source lines interleaved.

    Per instruction: percent of the function, sample count, address, mnemonic and
    operands (branch and call targets as symbol+offset); instructions with 5% or more
    are marked ``>``, the hottest source lines are listed first, inlined code is
    bracketed. Without FUNCTION, the hottest functions in turn. The code is the copy
    ``stax record`` kept in the recording, so the binary may be gone; otherwise it is
    read from the binary while its build id still matches. Examples:
    ``stax annotate rec.stax hot_loop``, ``stax annotate rec.stax -n 5 --image libc.so.6``.

    With ``--off-cpu``: where threads blocked, weighted by blocked time: each blocked
    span counts at the call site (or system call) through which the function blocked.

    Parameters
    ----------
    recording
        The .stax file written by ``stax record``.
    function
        The function to annotate, as ``stax top`` names it (all functions of that name), the
        mangled name, or a part of the name that only it has (as ``stax callers`` takes it).
    address
        Annotate the function holding this address (as annotate and objdump show it, e.g. 0x1240).
    image
        Only functions of this image (file name or path), e.g. ``libc.so.6``.
    limit
        Without FUNCTION or --address: how many of the hottest functions (-1 for all).
    json_output
        Print JSON (every instruction with count, weight, percent, source, inlines).
    off_cpu
        Weight call sites by blocked (off-CPU) time instead of CPU samples.
    demangle
        Show C++ and Rust names demangled (``--no-demangle``: as the binary spells them);
        FUNCTION may be given either way.
    """
    from stax.analysis.annotator import Annotator
    from stax.analysis.frame_names import FrameStyle
    from stax.plugin_manager import get_plugins
    from stax.recording.reader import Recording

    wanted_address = _address(address)
    selection = selection or Selection()
    rec = Recording.open(recording)
    try:
        if off_cpu and rec.off_cpu_span_count() == 0:
            raise StaxError(no_off_cpu_data_message(recording, rec.meta(), rec.capabilities()))
        annotator = Annotator(rec, off_cpu=off_cpu, flt=selection.to_filter(),
                              style=FrameStyle(demangle=demangle))
        if not annotator.functions():
            if annotator.incomplete:
                raise StaxError(f"{recording} is an incomplete recording (stax record did not finish"
                                " it), so its frames were never named and no function can be"
                                " annotated; record it again.")
            raise StaxError(_nothing_message(recording, selection, off_cpu))
        if function is not None or wanted_address is not None:
            rows = annotator.find(function, wanted_address, image)
            if not rows:
                raise StaxError(_no_match_message(recording, function, address, image, off_cpu))
        else:
            rows = annotator.hottest(limit, image)
            if not rows:
                raise StaxError(f"No function of image {image!r} has samples in {recording}; run"
                                f" `stax top {recording}` to see the images.")
        view = annotator.annotation(rows)
    finally:
        rec.close()
    if not json_output:  # the JSON carries it as a field
        say_incomplete(view.incomplete)
    options = RenderOptions(limit=limit, format="json" if json_output else "text")
    get_plugins().renderer("annotate", ViewKind.ANNOTATION).render(view, options, sys.stdout)
    sys.stdout.flush()
    return 0


def _address(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text, 16)  # hex with or without 0x, as objdump and annotate print addresses
    except ValueError:
        raise UsageError(f"'{text}' is not an address; give --address in hex, e.g. --address 0x1240."
                         ) from None


def _nothing_message(recording: Path, selection: Selection, off_cpu: bool) -> str:
    what = "blocked time in named functions" if off_cpu else "samples in named functions"
    if selection.describe():
        return (f"No {what} in {recording} match {selection.describe()}; run `stax top {recording}`"
                " without filters to see which threads were recorded.")
    return f"{recording} holds no {what}; record for longer or check that the target runs."


def _no_match_message(recording: Path, function: str | None, address: str | None, image: str | None,
                      off_cpu: bool) -> str:
    what = f"a function named {function!r}" if function is not None else f"a function holding {address}"
    if image is not None:
        what += f" in image {image!r}"
    has = "blocked time" if off_cpu else "samples"
    listing = f"stax annotate {recording}{' --off-cpu' if off_cpu else ''}"
    return f"{recording} has no {has} in {what}; `{listing}` shows the hottest functions."
