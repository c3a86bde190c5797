"""Build annotated disassembly from a recording: which functions, and each one's instructions.

An :class:`Annotator` over one open recording and one selection (on- or off-CPU, a
sample filter) - what ``stax annotate`` and the web UI use:

* :meth:`Annotator.functions` / :meth:`~Annotator.hottest` / :meth:`~Annotator.find` list
  :class:`~stax.analysis.annotation.FunctionSummary` rows, hottest first;
  :meth:`Annotator.summary` finds one again from its ``FunctionRef``;
* :meth:`Annotator.annotate` gives its :class:`~stax.analysis.annotation.AnnotatedFunction`:
  every instruction (capstone, :mod:`.disassembly`) with count, weight, percent, source
  line, inline chain and ``symbol+0xoffset`` targets;
* :meth:`Annotator.annotation` bundles several into an
  :class:`~stax.analysis.annotation.Annotation` for the ``annotate`` renderer.

On-CPU, an instruction's count is the samples taken at it (the leaf frame: self time),
so the counts of a function sum exactly to its self samples.  Off-CPU (``off_cpu=True``),
a blocked span counts at the instruction of the function where the thread was when it
blocked: the call site for a caller, the system call for the function that made it
(the resume address of a span is moved back onto a ``syscall``/``svc`` just before it);
its weight is the blocked ns, each span once per function even when it recurses.
Where the code comes from is :mod:`.annotation_code`'s business.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

from stax.analysis.annotation import (
    NOT_KEPT,
    OFF_CPU,
    ON_CPU,
    AnnotatedFunction,
    AnnotatedInstruction,
    Annotation,
    FunctionRef,
    FunctionSummary,
    LineTotal,
    SourceLine,
)
from stax.analysis.annotation_code import CodeLookup
from stax.analysis.code_indexes import InlineIndex, LineIndex, TargetNames
from stax.analysis.disassembly import Instruction, InstructionKind, UnsupportedArchitecture, disassembler
from stax.analysis.frame_names import DEFAULT_STYLE, FrameStyle
from stax.analysis.function_match import match_function_name
from stax.analysis.source_text import SourceFiles
from stax.function_code import FunctionCode
from stax.recording.code_tables import StoredFunction, stored_functions
from stax.recording.reader import Recording, SampleFilter
from stax.recording.recording_state import recording_incomplete_notice
from stax.recording.validation import total_fits
from stax.stack_table import EMPTY_STACK

if TYPE_CHECKING:
    from stax.contracts import CodeSource

HOT_PERCENT = 5.0
"""Instructions with at least this share of their function are marked hot (perf's red)."""
HOTTEST_LINES = 5
"""Source lines listed in :attr:`AnnotatedFunction.hottest_lines`."""

ALL_SAMPLES = SampleFilter()

Share = Callable[[int, int], float]
"""(count, weight) -> percent of the function (by count on-CPU, by weight off-CPU)."""


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
        style: FrameStyle = DEFAULT_STYLE,
    ) -> None:
        """``code_sources`` read code the recording did not keep (default: the installed
        ``stax_code_sources`` plugins, asked only when needed; pass ``[]`` for none)."""
        self.recording = recording
        self.mode = OFF_CPU if off_cpu else ON_CPU
        self.filter = flt
        self.style = style
        """How function names are shown (demangled unless ``--no-demangle``)."""
        self._images = {image.id: image for image in recording.images()}
        self._stored = stored_functions(recording)
        self._stored_starts = {i: [f.offset for f in fs] for i, fs in self._stored.items()}
        self._frames = {row[0]: row for row in recording.frame_addresses()}
        self._keys: dict[int, tuple[FunctionRef, str] | None] = {}
        self._hits: dict[FunctionRef, _Hits] = {}
        self.total_count = 0
        self.total_weight = 0
        self.meta = recording.meta()
        self._code = CodeLookup(recording, self._images, self.meta, code_sources)
        self.incomplete = recording_incomplete_notice(recording, self.meta)
        """The "incomplete recording" sentence when ``stax record`` did not finish the file."""
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
        show = self.style.name  # the reference keeps the raw name; the row shows it demangled
        if stored is not None:
            key = (FunctionRef(image_id, stored.offset), show(function or stored.name))
        elif function is not None and symbol_offset is not None:
            key = (FunctionRef(image_id, offset - symbol_offset), show(function))
        elif function is not None:
            key = (FunctionRef(image_id, None, function), show(function))
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
        total_fits(self.recording.path, self.total_weight, "the off-CPU span durations")
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
        """Functions called ``name``, or holding ``address`` (as linked, else an image offset).

        ``name`` is as shown, the raw (mangled) name, or a part of one function's name, as
        ``stax callers`` takes it (:func:`~stax.analysis.function_match.match_function_name`; a
        part several functions share raises its one sentence listing them)."""
        rows = [s for s in self.functions() if image is None or _image_matches(s.image, image)]
        if name is not None:
            named = self._named(rows, self.style.name(name))
            named += [s for s in rows if s.ref.name == name and s not in named]
            if not named:
                shown = {n for s in rows for n in self._hits[s.ref].names} | {s.name for s in rows}
                found = match_function_name(shown, name, self.style.name)
                named = self._named(rows, found) if found is not None else []
            rows = named
        if address is not None:
            by_code = [s for s in rows if self._holds_address(s.ref, address)]
            rows = by_code or [s for s in rows if self._holds_offset(s.ref, address)]
        return rows

    def _named(self, rows: list[FunctionSummary], shown: str) -> list[FunctionSummary]:
        return [s for s in rows if shown in self._hits[s.ref].names or s.name == shown]

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
                          tuple(self.annotate(f) for f in functions), tuple(notes), self.incomplete)

    def annotate(self, summary: FunctionSummary) -> AnnotatedFunction:
        """Instructions of ``summary``'s function with counts, lines, inlines and targets."""
        hits = self._hits[summary.ref]
        stored = self._stored_at(summary.ref.image_id, summary.ref.offset)
        offsets = sorted({self._lookup(f) for f in hits.frames})
        code, origin, note = self._code.code_for(summary, stored, offsets)
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

    def _share(self, summary: FunctionSummary) -> Share:
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
        lines = LineIndex(code.lines)
        inlines = InlineIndex(code.inlines, self.style.name)
        targets = TargetNames(summary.name, code, self.style.name)
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


def _image_matches(path: str, wanted: str) -> bool:
    return path == wanted or path.rsplit("/", 1)[-1] == wanted


def _hottest_lines(rows: Sequence[AnnotatedInstruction], share: Share) -> tuple[LineTotal, ...]:
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
