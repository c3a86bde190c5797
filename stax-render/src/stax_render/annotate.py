"""``annotate``: annotated disassembly as text (perf annotate's layout) or JSON.

It draws an :class:`stax.analysis.annotation.Annotation` (``ViewKind.ANNOTATION``), not a
profile: ``stax annotate`` builds one and hands it here.  Text, per function: a header
(name, image, architecture, samples or blocked time, where the code came from), the
hottest source lines, then one row per instruction - percent, count, address,
mnemonic and operands, ``<symbol+0xoff>`` for direct targets - with instructions at
or above 5% marked ``>``, the source line printed above the instructions it starts,
and inline boundaries as ``-- inlined f (from file:line) --`` lines.  Without code, rows
are sampled addresses: ``+0x72`` from the function's start, or ``@0x1a2b`` in the image
when the start is not known.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from stax.text_safety import printable
from stax.views import ViewKind
from stax_render.count_text import count_text
from stax_render.json_output import write_json

if TYPE_CHECKING:
    from stax.analysis.annotation import AnnotatedFunction, AnnotatedInstruction, Annotation, InlineCall
    from stax.contracts import RenderOptions

OFF_CPU = "off-cpu"
SOURCE_INDENT = 28


class AnnotateRenderer:
    """The ``stax annotate`` output; ``options.format == "json"`` selects JSON."""

    name = "annotate"
    formats = ("text", "json")
    description = "Annotated disassembly: per-instruction samples (or blocked time) with source."
    view = ViewKind.ANNOTATION

    def render(self, annotation: Annotation, options: RenderOptions, out: IO[str]) -> None:
        if options.format == "json":
            write_json(annotation.to_dict(), out)
            return
        for note in annotation.notes:
            out.write(f"# note: {_printable(note)}\n")
        for index, function in enumerate(annotation.functions):
            if index or annotation.notes:
                out.write("\n")
            _write_function(function, out)


def _write_function(function: AnnotatedFunction, out: IO[str]) -> None:
    off_cpu = function.mode == OFF_CPU
    summary = function.summary
    what = (f"{summary.weight / 1e6:,.1f} ms blocked in {count_text(summary.count, 'span')}" if off_cpu
            else count_text(summary.count, "sample"))
    arch = f" ({function.arch})" if function.arch else ""
    out.write(f"## {_printable(summary.name)}  {_printable(summary.image)}{arch}\n")
    out.write(f"# {what}, {summary.percent:.2f}% of the {'blocked time' if off_cpu else 'samples'}")
    if function.code_origin == "recording":
        out.write("; code kept in the recording")
    out.write("\n")
    if function.note:
        out.write(f"# note: {_printable(function.note)}\n")
    if function.hottest_lines:
        hottest = ", ".join(f"{_short(t.source.file)}:{t.source.line} {t.percent:.1f}%"
                            for t in function.hottest_lines)
        out.write(f"# hottest lines: {hottest}\n")
    if function.unattributed_count:
        out.write(f"# {count_text(function.unattributed_count, 'span' if off_cpu else 'sample')} at"
                  " addresses outside the function's code\n")
    out.write("\n")
    count_title = "spans" if off_cpu else "samples"
    count_width = max(len(f"{summary.count:,}"), len(count_title))
    columns = f"  {'percent':>7}  {count_title:>{count_width}}"
    if off_cpu:
        columns += f"  {'blocked ms':>10}"
    out.write(f"{columns}  {'address':>10}  instruction\n")
    last_source: tuple[str | None, int | None] | None = None
    last_chain: tuple[InlineCall, ...] = ()
    pad = " " * (len(columns) + 14)
    for row in function.instructions:
        if row.inlined != last_chain:
            _write_inline_change(row.inlined, last_chain, summary.name, pad, out)
            last_chain = row.inlined
        if row.source is not None and (row.source.file, row.source.line) != last_source:
            text = f"  {_printable(row.source.text.strip())}" if row.source.text else ""
            out.write(f"{pad}{_short(row.source.file)}:{row.source.line}{text}\n")
            last_source = (row.source.file, row.source.line)
        out.write(_instruction_line(row, count_width, off_cpu) + "\n")


def _instruction_line(row: AnnotatedInstruction, count_width: int, off_cpu: bool) -> str:
    mark = ">" if row.hot else " "
    percent = f"{row.percent:6.2f}%" if row.count or row.weight else " " * 7
    count = f"{row.count:>{count_width},}" if row.count else " " * count_width
    line = f"{mark} {percent}  {count}"
    if off_cpu:
        line += f"  {row.weight / 1e6:>10,.1f}" if row.weight else " " * 12
    if row.address is not None:
        address = f"{row.address:#x}"
    elif row.offset is not None:
        address = f"+{row.offset:#x}"
    else:
        address = f"@{row.image_offset or 0:#x}"
    instruction = f"{row.mnemonic} {row.operands}".rstrip() if row.mnemonic else "(code not available)"
    if row.target_label:
        instruction += f" <{row.target_label}>"
    return f"{line}  {address:>10}  {_printable(instruction)}"


def _write_inline_change(chain: tuple[InlineCall, ...], previous: tuple[InlineCall, ...], outer: str,
                         pad: str, out: IO[str]) -> None:
    if not chain:
        out.write(f"{pad}-- back in {_printable(outer)} --\n")
        return
    shared = 0
    while shared < min(len(chain), len(previous)) and \
            chain[len(chain) - 1 - shared] == previous[len(previous) - 1 - shared]:
        shared += 1
    for call in reversed(chain[: len(chain) - shared]):  # outermost new inline first
        where = f" (from {_short(call.call_file)}:{call.call_line})" if call.call_line else ""
        out.write(f"{pad}-- inlined {_printable(call.function)}{where} --\n")
    if shared == len(chain) and len(previous) > len(chain):
        out.write(f"{pad}-- back in {_printable(chain[0].function)} --\n")


def _short(path: str | None) -> str:
    return (path or "??").rsplit("/", 1)[-1]


def _printable(text: str) -> str:
    """Tabs as spaces (source text is indented with them), then every other control character
    escaped (:func:`stax.text_safety.printable`): names and source lines go to a terminal."""
    return printable(text.expandtabs(4))
