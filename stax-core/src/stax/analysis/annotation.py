"""Annotated disassembly, the data: a function's instructions with the samples or blocked time at each.

What ``stax annotate``, its ``--json`` and the web UI's annotate pane show, OS- and
architecture-neutral; built by :class:`stax.analysis.annotator.Annotator`.  Every class
has a JSON-able ``to_dict()``:

* :class:`FunctionSummary` - one function with its share of the selection; its
  :class:`FunctionRef` (``to_dict`` / ``from_dict``) names it in a later request;
* :class:`AnnotatedFunction` - its :class:`AnnotatedInstruction` rows (count, weight,
  percent, :class:`SourceLine`, :class:`InlineCall` chain, ``symbol+0xoffset`` targets),
  its hottest source lines (:class:`LineTotal`), where the code came from and a one-sentence
  note when it was not the recording;
* :class:`Annotation` - several annotated functions of one recording: the view the
  ``annotate`` renderer draws.
"""

from __future__ import annotations

import attrs

ON_CPU = "on-cpu"
OFF_CPU = "off-cpu"

CODE_FROM_RECORDING = "recording"
CODE_FROM_FILE = "file"
NOT_KEPT = "not-kept"
"""``FunctionSummary.code_status`` of a function the recording has no code row for."""


@attrs.frozen(slots=True)
class FunctionRef:
    """Identifies one function of a recording: its image and where it starts (frames' offsets).

    ``offset`` is None when no frame says where the function starts (named without a
    symbol offset); ``name`` then tells it from the image's other functions.
    """

    image_id: int
    offset: int | None
    name: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"image_id": self.image_id, "offset": self.offset, "name": self.name}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> FunctionRef:
        """The ref a client sent back (the web UI asks for a function by its ``ref``)."""
        offset, name = data.get("offset"), data.get("name")
        return cls(int(data["image_id"]), None if offset is None else int(offset),  # type: ignore[arg-type]
                   None if name is None else str(name))


@attrs.frozen(slots=True)
class FunctionSummary:
    """One function with its share of the selection: samples (on-CPU) or blocked time."""

    ref: FunctionRef
    name: str
    image: str
    is_kernel: bool
    count: int
    """Samples taken in it (on-CPU) or blocked spans through it (off-CPU)."""
    weight: int
    """CPU ns (on-CPU) or blocked ns (off-CPU)."""
    percent: float
    """Of all selected samples (on-CPU) or all blocked time (off-CPU)."""
    code_status: str
    """``kept``, ``too-large``, ``over-budget`` or ``not-kept``."""

    def to_dict(self) -> dict[str, object]:
        return {"ref": self.ref.to_dict(), "name": self.name, "image": self.image,
                "is_kernel": self.is_kernel, "count": self.count, "weight": self.weight,
                "percent": self.percent, "code_status": self.code_status}


@attrs.frozen(slots=True)
class SourceLine:
    """A source location, with its text when the file was readable."""

    file: str | None
    line: int | None
    text: str | None = None

    @property
    def label(self) -> str:
        return f"{self.file or '??'}:{self.line or '?'}"

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "text": self.text}


@attrs.frozen(slots=True)
class InlineCall:
    """One function inlined at an instruction, and the line it was called from."""

    function: str
    call_file: str | None
    call_line: int | None

    def to_dict(self) -> dict[str, object]:
        return {"function": self.function, "call_file": self.call_file, "call_line": self.call_line}


@attrs.frozen(slots=True)
class AnnotatedInstruction:
    """One instruction (or, without code, one sampled address) and what landed on it."""

    offset: int | None
    """Bytes from the function's start (None: the start is not known)."""
    address: int | None
    """As linked (what objdump shows); None when the code was not available."""
    size: int
    mnemonic: str
    operands: str
    kind: str
    """:class:`~stax.analysis.disassembly.InstructionKind`: call, branch, return, syscall..."""
    target: int | None
    target_label: str | None
    """A direct branch/call target as ``symbol+0xoffset`` when its symbol is known."""
    count: int
    weight: int
    percent: float
    hot: bool
    source: SourceLine | None
    inlined: tuple[InlineCall, ...] = ()
    """Inlined functions this instruction belongs to, innermost first."""
    image_offset: int | None = None
    """Where it is in the frames' offset space (``image+0x..`` in ``stax top``)."""

    def to_dict(self) -> dict[str, object]:
        return {
            "offset": self.offset, "address": self.address, "image_offset": self.image_offset,
            "size": self.size,
            "mnemonic": self.mnemonic, "operands": self.operands, "kind": self.kind,
            "target": self.target, "target_label": self.target_label, "count": self.count,
            "weight": self.weight, "percent": self.percent, "hot": self.hot,
            "source": self.source.to_dict() if self.source else None,
            "inlined": [c.to_dict() for c in self.inlined],
        }


@attrs.frozen(slots=True)
class LineTotal:
    """What landed on one source line of the function (all its instructions together)."""

    source: SourceLine
    count: int
    weight: int
    percent: float

    def to_dict(self) -> dict[str, object]:
        return {**self.source.to_dict(), "count": self.count, "weight": self.weight,
                "percent": self.percent}


@attrs.frozen(slots=True)
class AnnotatedFunction:
    """One function, instruction by instruction."""

    summary: FunctionSummary
    mode: str
    arch: str | None
    address: int | None
    size: int | None
    code_origin: str | None
    """``recording``, ``file`` (read from the binary, build id matching) or None (no code)."""
    note: str | None
    """One sentence when the code did not come from the recording, saying why and from where."""
    instructions: tuple[AnnotatedInstruction, ...]
    hottest_lines: tuple[LineTotal, ...] = ()
    unattributed_count: int = 0
    unattributed_weight: int = 0
    """Samples at addresses the function's code does not hold (none when the data agrees)."""

    @property
    def count(self) -> int:
        return self.summary.count

    @property
    def weight(self) -> int:
        return self.summary.weight

    def to_dict(self) -> dict[str, object]:
        return {
            **self.summary.to_dict(), "mode": self.mode, "arch": self.arch,
            "address": self.address, "size": self.size, "code_origin": self.code_origin,
            "note": self.note, "unattributed_count": self.unattributed_count,
            "unattributed_weight": self.unattributed_weight,
            "hottest_lines": [t.to_dict() for t in self.hottest_lines],
            "instructions": [i.to_dict() for i in self.instructions],
        }


@attrs.frozen(slots=True)
class Annotation:
    """Annotated functions of one recording: what the ``annotate`` renderer draws."""

    source: str
    mode: str
    total_count: int
    total_weight: int
    functions: tuple[AnnotatedFunction, ...]
    notes: tuple[str, ...] = ()
    incomplete: str | None = None
    """The "incomplete recording" sentence when ``stax record`` did not finish the file."""

    def to_dict(self) -> dict[str, object]:
        return {"recording": self.source, "mode": self.mode, "total_count": self.total_count,
                "total_weight": self.total_weight, "notes": list(self.notes),
                "incomplete": self.incomplete, "functions": [f.to_dict() for f in self.functions]}
