"""Annotated disassembly: a function's instructions with the samples or blocked time at each.

The data behind ``stax annotate``, its ``--json`` and the web UI's annotate pane, OS- and
architecture-neutral.  An :class:`Annotator` over one open recording and one selection:

* :meth:`Annotator.functions` / :meth:`~Annotator.hottest` / :meth:`~Annotator.find` list
  :class:`FunctionSummary` rows (hottest first); a summary's :class:`FunctionRef`
  (``to_dict`` / ``from_dict``) names the function in a later request
  (:meth:`Annotator.summary`);
* :meth:`Annotator.annotate` turns one into an :class:`AnnotatedFunction`: every
  instruction (capstone, :mod:`.disassembly`) with its count, weight and percent, its
  source line (and the text when the file is readable), its inline chain, and direct
  branch/call targets as ``symbol+0xoffset``;
* :meth:`Annotator.annotation` bundles several into an :class:`Annotation`, the view the
  ``annotate`` renderer draws; every class has a JSON-able ``to_dict()``.

On-CPU, an instruction's count is the samples taken at it (the leaf frame: self time),
so the counts of a function sum exactly to its self samples.  Off-CPU (``off_cpu=True``),
a blocked span counts at the instruction of the function where the thread was when it
blocked: the call site for a caller, the system call for the function that made it
(the resume address of a span is moved back onto a ``syscall``/``svc`` just before it);
its weight is the blocked ns, each span once per function even when it recurses.

The code comes from the recording (kept by ``stax record``, :mod:`stax.function_code_store`)
or, when it was not kept, from the binary on disk while its build id still matches (the
``stax_code_sources`` plugins); :attr:`AnnotatedFunction.note` says which, in one sentence.
Without code, counts are shown per address.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

from stax.analysis.disassembly import Instruction, InstructionKind, UnsupportedArchitecture, disassembler
from stax.analysis.source_text import SourceFiles
from stax.function_code import CodeStatus, FunctionCode, InlineRange, LineRow
from stax.function_code_store import CODE_META_KEY, MAX_FUNCTION_BYTES
from stax.recording.code_tables import StoredFunction, read_function_code, stored_functions
from stax.recording.reader import Recording, SampleFilter
from stax.stack_table import EMPTY_STACK, Image

if TYPE_CHECKING:
    from stax.contracts import CodeSource

ON_CPU = "on-cpu"
OFF_CPU = "off-cpu"
HOT_PERCENT = 5.0
"""Instructions with at least this share of their function are marked hot (perf's red)."""
HOTTEST_LINES = 5
"""Source lines listed in :attr:`AnnotatedFunction.hottest_lines`."""

CODE_FROM_RECORDING = "recording"
CODE_FROM_FILE = "file"
NOT_KEPT = "not-kept"
"""``FunctionSummary.code_status`` of a function the recording has no code row for."""

ALL_SAMPLES = SampleFilter()


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

    def to_dict(self) -> dict[str, object]:
        return {"recording": self.source, "mode": self.mode, "total_count": self.total_count,
                "total_weight": self.total_weight, "notes": list(self.notes),
                "functions": [f.to_dict() for f in self.functions]}


@attrs.define(slots=True)
class _Hits:
    """Per frame of one function: count and weight, and whether it is a blocked resume address."""

    frames: dict[int, list[int]] = attrs.field(factory=dict)
    names: dict[str, int] = attrs.field(factory=dict)
    count: int = 0
    weight: int = 0
    is_kernel: bool = False

    def add(self, frame_id: int, name: str, count: int, weight: int) -> None:
        entry = self.frames.get(frame_id)
        if entry is None:
            self.frames[frame_id] = [count, weight]
        else:
            entry[0] += count
            entry[1] += weight
        self.names[name] = self.names.get(name, 0) + count
        self.count += count
        self.weight += weight


class Annotator:
    """Annotated disassembly of one recording's selection (on- or off-CPU)."""

    def __init__(
        self,
        recording: Recording,
        *,
        off_cpu: bool = False,
        flt: SampleFilter = ALL_SAMPLES,
        code_sources: Sequence[CodeSource] | None = None,
    ) -> None:
        """``code_sources`` read code the recording did not keep (default: the installed
        ``stax_code_sources`` plugins, asked only when needed; pass ``[]`` for none)."""
        self.recording = recording
        self.mode = OFF_CPU if off_cpu else ON_CPU
        self.filter = flt
        self._code_sources = code_sources
        self._images = {image.id: image for image in recording.images()}
        self._stored = stored_functions(recording)
        self._stored_starts = {i: [f.offset for f in fs] for i, fs in self._stored.items()}
        self._frames = {row[0]: row for row in recording.frame_addresses()}
        self._keys: dict[int, tuple[FunctionRef, str] | None] = {}
        self._hits: dict[FunctionRef, _Hits] = {}
        self.total_count = 0
        self.total_weight = 0
        self.meta = recording.meta()
        if off_cpu:
            self._collect_off_cpu()
        else:
            self._collect_on_cpu()
        self._sources = SourceFiles()

    # -- weights per function -------------------------------------------------------------------

    def _key(self, frame_id: int) -> tuple[FunctionRef, str] | None:
        """The function a frame belongs to, and its name, or None for unnamed code."""
        if frame_id in self._keys:
            return self._keys[frame_id]
        _, image_id, offset, _kernel, is_return, function, symbol_offset, _f, _l = self._frames[frame_id]
        lookup = offset - 1 if is_return and offset else offset
        key: tuple[FunctionRef, str] | None = None
        stored = self._stored_at(image_id, lookup)
        if stored is not None:
            key = (FunctionRef(image_id, stored.offset), function or stored.name)
        elif function is not None and symbol_offset is not None:
            key = (FunctionRef(image_id, offset - symbol_offset), function)
        elif function is not None:
            key = (FunctionRef(image_id, None, function), function)
        self._keys[frame_id] = key
        return key

    def _stored_at(self, image_id: int, offset: int | None) -> StoredFunction | None:
        starts = self._stored_starts.get(image_id)
        if not starts or offset is None:
            return None
        index = bisect.bisect_right(starts, offset) - 1
        if index >= 0:
            stored = self._stored[image_id][index]
            if stored.contains_offset(offset):
                return stored
        return None

    def _hit(self, frame_id: int, count: int, weight: int) -> None:
        key = self._key(frame_id)
        if key is None:
            return
        ref, name = key
        hits = self._hits.get(ref)
        if hits is None:
            hits = self._hits[ref] = _Hits(is_kernel=self._frames[frame_id][3])
        hits.add(frame_id, name, count, weight)

    def _collect_on_cpu(self) -> None:
        for frame_id, count, weight in self.recording.leaf_frame_totals(self.filter):
            self._hit(frame_id, count, weight or 0)
        for _pid, _tid, count, weight in self.recording.thread_totals(self.filter):
            self.total_count += count
            self.total_weight += weight or 0

    def _collect_off_cpu(self) -> None:
        parents, frames = self.recording.stack_arrays()
        per_stack: dict[int, list[int]] = {}
        for stack_id, _reason, count, ns in self.recording.off_cpu_stack_totals(self.filter):
            ns = ns or 0
            self.total_count += count
            self.total_weight += ns
            entry = per_stack.setdefault(stack_id, [0, 0])
            entry[0] += count
            entry[1] += ns
        for stack_id, (count, ns) in per_stack.items():
            seen: set[FunctionRef] = set()
            stack = stack_id
            while stack != EMPTY_STACK:  # leaf first: the innermost frame of each function wins
                frame_id = frames[stack]
                stack = parents[stack]
                key = self._key(frame_id)
                if key is None or key[0] in seen or self._frames[frame_id][3]:
                    continue  # unnamed, already counted (recursion), or kernel code
                seen.add(key[0])
                self._hit(frame_id, count, ns)

    # -- choosing functions ---------------------------------------------------------------------

    def functions(self) -> list[FunctionSummary]:
        """Every function with samples (or blocked time), hottest first."""
        out = [self._summary(ref, hits) for ref, hits in self._hits.items()]
        if self.mode == OFF_CPU:
            out.sort(key=lambda s: (-s.weight, -s.count, s.name))
        else:
            out.sort(key=lambda s: (-s.count, -s.weight, s.name))
        return out

    def summary(self, ref: FunctionRef) -> FunctionSummary | None:
        """The summary of the function ``ref`` names, or None when it has nothing in the selection."""
        hits = self._hits.get(ref)
        return self._summary(ref, hits) if hits is not None else None

    def hottest(self, limit: int, image: str | None = None) -> list[FunctionSummary]:
        """The ``limit`` hottest functions (-1: all), optionally only those of ``image``.

        Off-CPU, the functions are ranked by the blocked time of the spans that left user
        code in them (the innermost user function), so the callers every span shares
        (``main``, ``_start``) do not crowd out the waits; find those by name.
        """
        rows = [s for s in self.functions() if image is None or _image_matches(s.image, image)]
        if self.mode == OFF_CPU:
            innermost = self._innermost_user_functions()
            rows = [s for s in rows if s.ref in innermost]
        return rows if limit < 0 else rows[:limit]

    def find(self, name: str | None = None, address: int | None = None,
             image: str | None = None) -> list[FunctionSummary]:
        """Functions called ``name``, or holding ``address`` (as linked, else an image offset)."""
        rows = [s for s in self.functions() if image is None or _image_matches(s.image, image)]
        if name is not None:
            rows = [s for s in rows if name in self._hits[s.ref].names or s.name == name]
        if address is not None:
            by_code = [s for s in rows if self._holds_address(s.ref, address)]
            rows = by_code or [s for s in rows if self._holds_offset(s.ref, address)]
        return rows

    def _holds_address(self, ref: FunctionRef, address: int) -> bool:
        stored = self._stored_at(ref.image_id, ref.offset)
        return stored is not None and stored.address <= address < stored.address + stored.size

    def _holds_offset(self, ref: FunctionRef, offset: int) -> bool:
        stored = self._stored_at(ref.image_id, ref.offset)
        if stored is not None:
            return stored.contains_offset(offset)
        return any(self._lookup(f) == offset for f in self._hits[ref].frames)

    def _innermost_user_functions(self) -> set[FunctionRef]:
        out = set()
        for ref, hits in self._hits.items():
            if any(not self._frames[f][4] for f in hits.frames):  # a resume address, not a return
                out.add(ref)
        return out

    def _summary(self, ref: FunctionRef, hits: _Hits) -> FunctionSummary:
        name = max(hits.names.items(), key=lambda kv: kv[1])[0]
        image = self._images.get(ref.image_id)
        stored = self._stored_at(ref.image_id, ref.offset)
        if self.mode == OFF_CPU:
            percent = 100.0 * hits.weight / self.total_weight if self.total_weight else 0.0
        else:
            percent = 100.0 * hits.count / self.total_count if self.total_count else 0.0
        return FunctionSummary(ref, name, image.path if image else "?", hits.is_kernel, hits.count,
                               hits.weight, percent, stored.status if stored else NOT_KEPT)

    # -- annotating one function ----------------------------------------------------------------

    def annotation(self, functions: Iterable[FunctionSummary], notes: Sequence[str] = ()) -> Annotation:
        """Annotate each of ``functions`` into one :class:`Annotation`."""
        return Annotation(str(self.recording.path), self.mode, self.total_count, self.total_weight,
                          tuple(self.annotate(f) for f in functions), tuple(notes))

    def annotate(self, summary: FunctionSummary) -> AnnotatedFunction:
        """Instructions of ``summary``'s function with counts, lines, inlines and targets."""
        hits = self._hits[summary.ref]
        code, origin, note = self._code(summary)
        instructions: list[Instruction] = []
        if code is not None and code.code is not None:
            try:
                instructions = disassembler(code.arch).decode(code.code, code.address)
            except UnsupportedArchitecture as exc:
                code, origin, note = None, None, str(exc)
        if not instructions:
            rows = self._by_address(summary, hits)
            return AnnotatedFunction(summary, self.mode, code.arch if code else None,
                                     code.address if code else None, code.size if code else None,
                                     None, note, rows, _hottest_lines(rows, self._share(summary)))
        return self._annotated(summary, hits, code, origin, note, instructions)  # type: ignore[arg-type]

    def _lookup(self, frame_id: int) -> int:
        offset, is_return = self._frames[frame_id][2], self._frames[frame_id][4]
        return offset - 1 if is_return and offset else offset

    def _share(self, summary: FunctionSummary):  # -> Callable[[int, int], float]
        if self.mode == OFF_CPU:
            total = summary.weight
            return lambda count, weight: 100.0 * weight / total if total else 0.0
        total = summary.count
        return lambda count, weight: 100.0 * count / total if total else 0.0

    def _annotated(self, summary: FunctionSummary, hits: _Hits, code: FunctionCode, origin: str | None,
                   note: str | None, instructions: list[Instruction]) -> AnnotatedFunction:
        starts = [insn.address for insn in instructions]
        counts = [0] * len(instructions)
        weights = [0] * len(instructions)
        lost_count = lost_weight = 0
        for frame_id, (count, weight) in hits.frames.items():
            vaddr = code.address + (self._lookup(frame_id) - code.offset)
            index = bisect.bisect_right(starts, vaddr) - 1
            if index < 0 or vaddr >= starts[index] + instructions[index].size:
                lost_count += count
                lost_weight += weight
                continue
            if self.mode == OFF_CPU and not self._frames[frame_id][4] and index > 0 and \
                    instructions[index - 1].kind == InstructionKind.SYSCALL and \
                    starts[index - 1] + instructions[index - 1].size == vaddr:
                index -= 1  # the span resumes after the system call that blocked: count it there
            counts[index] += count
            weights[index] += weight
        share = self._share(summary)
        lines = _LineIndex(code.lines)
        inlines = _InlineIndex(code.inlines)
        targets = _TargetNames(summary.name, code)
        rows = []
        for i, insn in enumerate(instructions):
            location = lines.at(insn.address)
            source = None
            if location is not None:
                source = SourceLine(location[0], location[1], self._sources.line(*location))
            percent = share(counts[i], weights[i])
            rows.append(AnnotatedInstruction(
                insn.address - code.address, insn.address, insn.size, insn.mnemonic, insn.operands,
                insn.kind, insn.target, targets.label(insn.target), counts[i], weights[i], percent,
                percent >= HOT_PERCENT, source, inlines.at(insn.address),
                code.offset + insn.address - code.address))
        return AnnotatedFunction(summary, self.mode, code.arch, code.address, code.size, origin, note,
                                 tuple(rows), _hottest_lines(rows, share), lost_count, lost_weight)

    def _by_address(self, summary: FunctionSummary, hits: _Hits) -> tuple[AnnotatedInstruction, ...]:
        """Without code: one row per sampled address, with the line the frame was named with."""
        per_offset: dict[int, list[int]] = {}
        lines: dict[int, tuple[str | None, int | None]] = {}
        for frame_id, (count, weight) in hits.frames.items():
            offset = self._lookup(frame_id)
            entry = per_offset.setdefault(offset, [0, 0])
            entry[0] += count
            entry[1] += weight
            lines.setdefault(offset, (self._frames[frame_id][7], self._frames[frame_id][8]))
        share = self._share(summary)
        rows = []
        for offset in sorted(per_offset):
            count, weight = per_offset[offset]
            file, line = lines[offset]
            source = SourceLine(file, line, self._sources.line(file, line)) if line else None
            percent = share(count, weight)
            start = summary.ref.offset
            rows.append(AnnotatedInstruction(None if start is None else offset - start, None, 0, "", "",
                                             "", None, None, count, weight, percent,
                                             percent >= HOT_PERCENT, source, image_offset=offset))
        return tuple(rows)

    # -- where the code comes from ----------------------------------------------------------------

    def _code(self, summary: FunctionSummary) -> tuple[FunctionCode | None, str | None, str | None]:
        """(code, origin, note): the recording's copy, else the matching binary's, else None."""
        stored = self._stored_at(summary.ref.image_id, summary.ref.offset)
        if stored is not None and stored.status == CodeStatus.KEPT:
            code = read_function_code(self.recording, stored)
            if code.code is not None:
                return code, CODE_FROM_RECORDING, None
        why = self._why_not_kept(summary, stored)
        image = self._images.get(summary.ref.image_id)
        if summary.is_kernel or image is None:
            return None, None, f"{why}; only samples per address are shown."
        from_file = self._code_from_file(image, summary)
        path = image.path.removesuffix(" (deleted)")
        if from_file is not None and from_file.code is not None:
            return (from_file, CODE_FROM_FILE,
                    f"{why}; read it from {path} instead, whose build id still matches.")
        if os.path.exists(path):
            gone = f"{path} is another build now" if image.build_id else f"{path} cannot be read"
        else:
            gone = f"{path} no longer exists"
        if from_file is not None and from_file.status == CodeStatus.TOO_LARGE:
            gone = f"{path} holds {from_file.size:,} bytes of it, more than annotate reads"
        return None, None, f"{why}, and {gone}; only samples per address are shown."

    def _why_not_kept(self, summary: FunctionSummary, stored: StoredFunction | None) -> str:
        name, rec = summary.name, self.recording.path
        limits = self.meta.get(CODE_META_KEY)
        limits = limits if isinstance(limits, dict) else {}
        if stored is not None and stored.status == CodeStatus.TOO_LARGE:
            bound = int(limits.get("max_function_bytes", MAX_FUNCTION_BYTES))
            return (f"The code of {name} ({_size(stored.size)}) was not kept in {rec}, being larger"
                    f" than the {_size(bound)} kept per function")
        if stored is not None:
            bound = int(limits.get("max_recording_bytes", 0))
            return (f"The code of {name} was not kept in {rec}: the {_size(bound)} of code kept per"
                    " recording went to hotter functions")
        if summary.is_kernel:
            return f"The code of {name} was not kept in {rec}, as kernel code never is"
        if not limits:
            return f"The code of {name} was not kept in {rec}, which was recorded without keeping code"
        return (f"The code of {name} was not kept in {rec}, as its binary could not be read when"
                " the recording ended")

    def _code_from_file(self, image: Image, summary: FunctionSummary) -> FunctionCode | None:
        if self._code_sources is None:
            from stax.plugin_manager import get_plugins

            self._code_sources = get_plugins().code_sources()
        if not self._code_sources:
            return None
        from stax.contracts import SymbolContext
        from stax.symbol_cache import cache_dir

        context = SymbolContext(cache_dir=cache_dir())
        offsets = sorted({self._lookup(f) for f in self._hits[summary.ref].frames})
        for source in self._code_sources:
            try:
                found = source.function_code(image, offsets, context, 64 * MAX_FUNCTION_BYTES)
            except Exception:  # a broken source only means: no code from it
                continue
            for function in found:
                if function.offset == summary.ref.offset or function.contains_offset(offsets[0]):
                    return function
        return None


def _size(count: int) -> str:
    """``100 bytes``, ``128 KiB``, ``8 MiB``."""
    if count >= 1024 * 1024:
        return f"{count / 1048576:g} MiB"
    return f"{count / 1024:g} KiB" if count >= 1024 else f"{count:,} bytes"


def _image_matches(path: str, wanted: str) -> bool:
    return path == wanted or path.rsplit("/", 1)[-1] == wanted


class _LineIndex:
    """Address -> (file, line) from a function's line rows (the last row at or before it)."""

    def __init__(self, rows: Sequence[LineRow]) -> None:
        self.rows = rows
        self.starts = [r.address for r in rows]

    def at(self, address: int) -> tuple[str | None, int] | None:
        index = bisect.bisect_right(self.starts, address) - 1
        if index < 0 or self.rows[index].file is None:
            return None
        return self.rows[index].file, self.rows[index].line


class _InlineIndex:
    """Address -> inline chain; ranges of one depth never overlap, so one bisect per depth."""

    def __init__(self, ranges: Sequence[InlineRange]) -> None:
        by_depth: dict[int, list[InlineRange]] = {}
        for r in ranges:
            by_depth.setdefault(r.depth, []).append(r)
        self.depths = [sorted(by_depth[d], key=lambda r: r.start) for d in sorted(by_depth)]
        self.starts = [[r.start for r in rs] for rs in self.depths]

    def at(self, address: int) -> tuple[InlineCall, ...]:
        chain = []
        for ranges, starts in zip(self.depths, self.starts, strict=True):
            index = bisect.bisect_right(starts, address) - 1
            if index < 0 or address >= ranges[index].end:
                break
            r = ranges[index]
            chain.append(InlineCall(r.function, r.call_file, r.call_line))
        return tuple(chain)


class _TargetNames:
    """Direct targets as ``symbol+0xoffset``: the function itself, then the symbols kept with it."""

    def __init__(self, name: str, code: FunctionCode) -> None:
        self.name = name
        self.start, self.end = code.address, code.address + code.size
        self.symbols = sorted(code.symbols, key=lambda s: s.address)
        self.starts = [s.address for s in self.symbols]

    def label(self, target: int | None) -> str | None:
        if target is None:
            return None
        if self.start <= target < self.end:
            return _plus(self.name, target - self.start)
        index = bisect.bisect_right(self.starts, target) - 1
        if index >= 0 and target < self.symbols[index].address + max(self.symbols[index].size, 1):
            return _plus(self.symbols[index].name, target - self.symbols[index].address)
        return None


def _plus(name: str, offset: int) -> str:
    return f"{name}+{offset:#x}" if offset else name


def _hottest_lines(rows: Sequence[AnnotatedInstruction], share) -> tuple[LineTotal, ...]:  # noqa: ANN001
    per_line: dict[tuple[str | None, int | None], list] = {}
    for row in rows:
        if row.source is None or not (row.count or row.weight):
            continue
        key = (row.source.file, row.source.line)
        entry = per_line.setdefault(key, [row.source, 0, 0])
        entry[1] += row.count
        entry[2] += row.weight
    totals = [LineTotal(src, count, weight, share(count, weight))
              for src, count, weight in per_line.values()]
    totals.sort(key=lambda t: (-t.percent, -t.count, t.source.label))
    return tuple(totals[:HOTTEST_LINES])
