"""The :class:`Profile`: the selected samples of a recording, aggregated per distinct stack.

Renderers and third-party plugins receive a ``Profile``; it holds everything they
need (names, the merged stack tree, per-thread totals, metadata) and no longer
needs the recording open.  Frames are *display frames*: one per function rather
than per address, with inlined functions expanded into extra frames above the
function they were inlined into, so two addresses in one function merge.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from pathlib import Path

import attrs

from stax.address_spaces import UNKNOWN_IMAGE_PATH
from stax.analysis.frame_names import DEFAULT_STYLE, FrameStyle, frame_labels, inline_details
from stax.capabilities import Capability, CapabilityRow, CapabilityStatus
from stax.recording import meta_keys as mk
from stax.recording.reader import FrameLabel, Recording, SampleFilter, ThreadRow
from stax.recording.recording_state import recording_incomplete_notice
from stax.recording.validation import damaged, total_fits, unknown_stack
from stax.stack_table import EMPTY_STACK

ROOT = -1
"""The parent of every outermost node in :attr:`Profile.node_parents`."""

NO_STACK_NAME = "[no stack]"
"""The frame that stands for samples recorded without any stack, so sums stay whole."""

INLINE_SUFFIX = " (inlined)"

ALL_SAMPLES = SampleFilter()
ON_CPU_CAPABILITIES = frozenset({Capability.ON_CPU_SAMPLING, Capability.USER_STACKS,
                                 Capability.KERNEL_STACKS})
"""The capability rows that change what an on-CPU view shows."""


@attrs.frozen(slots=True)
class DisplayFrame:
    """One function as shown: a name, its image, and whether it is kernel or inlined code.

    ``is_inline`` frames come from debug info (a function inlined into its caller);
    they are drawn above the real function that contains them.
    """

    name: str
    image: str
    is_kernel: bool = False
    is_inline: bool = False
    resolved: bool = True
    is_jit: bool = False
    """In JIT code (perf maps, jitdump): the ``_[j]`` of folded stacks."""
    file: str | None = attrs.field(default=None, eq=False)
    """The source file the debug info names, None when it names none."""
    line: int | None = attrs.field(default=None, eq=False)
    """The source line: in a profile by line (``stax top --lines``) this frame's line; else the
    lowest line of the function that has samples (near its start), None without debug info.
    Not part of the identity: :class:`DisplayTreeBuilder` merges frames per function or per
    line as :attr:`FrameStyle.lines` says."""

    @property
    def location(self) -> str | None:
        """``file:line`` (or the file alone), None without debug info: for tooltips and tables."""
        if not self.file:
            return None
        return self.file if self.line is None else f"{self.file}:{self.line}"

    @property
    def label(self) -> str:
        """The name with an ``(inlined)`` suffix for inline frames, for text outputs."""
        return self.name + INLINE_SUFFIX if self.is_inline else self.name


def is_non_code(label: FrameLabel) -> bool:
    """True for a frame at an address no mapping of its process holds: not code at all, e.g. a
    system call's argument that a frame-pointer walk read as a return address (shown as
    ``[unknown]+0xbebc200``).  Unnamed code in a mapped image is code and is kept."""
    return not label.resolved and label.image == UNKNOWN_IMAGE_PATH


@attrs.frozen(slots=True)
class ThreadStack:
    """Samples of one thread on one node of the stack tree."""

    pid: int
    tid: int
    node: int
    count: int
    weight: int


class DisplayTreeBuilder:
    """Maps raw stack ids of the recording onto a prefix tree of display frames.

    Only stacks that carry samples (and their ancestors) are visited, each once.  The
    off-CPU views use it too, so blocked and waker stacks merge exactly like samples.
    """

    def __init__(self, labels: Sequence[FrameLabel], parents: array, frames: array,
                 source: str | Path = "The recording", style: FrameStyle = DEFAULT_STYLE,
                 inline_lines: dict[int, list[tuple[str, str | None, int | None]]] | None = None,
                 drop_non_code: bool = False) -> None:
        self.source = source
        self.drop_non_code = drop_non_code
        """Leave out frames that are not code (:func:`is_non_code`), as the off-CPU views do."""
        self.non_code_frames: set[int] = set()
        """Raw frames left out as not code."""
        self.non_code_stacks: set[int] = set()
        """Raw stacks that had a frame left out as not code (counted by the off-CPU views)."""
        self.style = style
        self.inline_lines = inline_lines or {}
        """frame id -> (function, file, line) of its inlined calls, innermost first (:func:`of`)."""
        """The file, named in the sentence if a stack id turns out not to be in the stack table."""
        self.labels = labels
        self.raw_parents = parents
        self.raw_frames = frames
        self.frames: list[DisplayFrame] = []
        self.frame_index: dict[tuple[DisplayFrame, int | None], int] = {}
        self.node_parents = array("q")
        self.node_frames = array("q")
        self.node_index: dict[tuple[int, int], int] = {}
        self.chains: dict[int, tuple[int, ...]] = {}
        self.stack_nodes: dict[int, int] = {}

    def frame_id(self, frame: DisplayFrame) -> int:
        """The id of ``frame``: one per function (per function and line with ``style.lines``)."""
        key = (frame, frame.line if self.style.lines else None)
        index = self.frame_index.get(key)
        if index is None:
            index = len(self.frames)
            self.frames.append(frame)
            self.frame_index[key] = index
        elif not self.style.lines and frame.line is not None:
            known = self.frames[index]
            if known.line is None or frame.line < known.line:  # the function's lowest line
                self.frames[index] = attrs.evolve(known, file=frame.file or known.file, line=frame.line)
        return index

    def chain(self, raw_frame: int) -> tuple[int, ...]:
        """Display frames of one raw frame, outermost first: the function, then its inlines."""
        chain = self.chains.get(raw_frame)
        if chain is None:
            if not 0 <= raw_frame < len(self.labels):  # Recording.open checks; never index blindly
                raise damaged(self.source, f"a stack refers to frame {raw_frame}, which does not exist")
            label = self.labels[raw_frame]
            if self.drop_non_code and is_non_code(label):
                self.non_code_frames.add(raw_frame)
                self.chains[raw_frame] = ()
                return ()
            ids = [self.frame_id(DisplayFrame(label.name, label.image, label.is_kernel, False,
                                              label.resolved, label.is_jit, label.file, label.line))]
            # FrameLabel.inlined is innermost first; the innermost is drawn on top.
            lines = self.inline_lines.get(raw_frame, ())
            for depth in range(len(label.inlined) - 1, -1, -1):
                _, file, line = lines[depth] if depth < len(lines) else ("", None, None)
                ids.append(self.frame_id(DisplayFrame(label.inlined[depth], label.image, label.is_kernel,
                                                      True, is_jit=label.is_jit, file=file, line=line)))
            chain = tuple(ids)
            self.chains[raw_frame] = chain
        return chain

    def child(self, parent: int, frame: int) -> int:
        key = (parent, frame)
        node = self.node_index.get(key)
        if node is None:
            node = len(self.node_frames)
            self.node_parents.append(parent)
            self.node_frames.append(frame)
            self.node_index[key] = node
        return node

    def node_of(self, stack_id: int) -> int:
        """The display node of a raw stack; parents always get smaller ids than children."""
        if stack_id == EMPTY_STACK:
            return self.child(ROOT, self.frame_id(DisplayFrame(NO_STACK_NAME, "", resolved=False)))
        memo = self.stack_nodes
        pending: list[int] = []
        raw_parents = self.raw_parents
        count = len(raw_parents)
        stack = stack_id
        while stack != EMPTY_STACK and stack not in memo:
            # The stack ids of samples and spans are checked here, once per distinct stack;
            # Recording.open checked parent < id, and a walk that outlasts the table is
            # refused too rather than looping
            if type(stack) is not int or not 0 <= stack < count or len(pending) >= count:
                raise unknown_stack(self.source, stack_id, looped=len(pending) >= count)
            pending.append(stack)
            stack = raw_parents[stack]
        node = ROOT if stack == EMPTY_STACK else memo[stack]
        # child() inlined: this loop runs once per new tree node and dominates loading.
        chains, raw_frames, index = self.chains, self.raw_frames, self.node_index
        node_parents, node_frames = self.node_parents, self.node_frames
        for stack in reversed(pending):
            raw_frame = raw_frames[stack]
            chain = chains.get(raw_frame)
            if chain is None:
                chain = self.chain(raw_frame)
            for frame in chain:
                key = (node, frame)
                child = index.get(key)
                if child is None:
                    child = len(node_frames)
                    node_parents.append(node)
                    node_frames.append(frame)
                    index[key] = child
                node = child
            memo[stack] = node
            if self.drop_non_code and (not chain or raw_parents[stack] in self.non_code_stacks):
                self.non_code_stacks.add(stack)
        if node == ROOT:  # every frame was left out as not code
            return self.child(ROOT, self.frame_id(DisplayFrame(NO_STACK_NAME, "", resolved=False)))
        return node

    def non_code_frames_of(self, stack_id: int) -> set[int]:
        """The raw frames of a mapped stack (:meth:`node_of`) that were left out as not code."""
        out = set()
        while stack_id in self.non_code_stacks:
            frame = self.raw_frames[stack_id]
            if frame in self.non_code_frames:
                out.add(frame)
            stack_id = self.raw_parents[stack_id]
        return out

    def path(self, node: int) -> tuple[DisplayFrame, ...]:
        """The display frames from the outermost one down to ``node``."""
        out: list[DisplayFrame] = []
        while node != ROOT:
            out.append(self.frames[self.node_frames[node]])
            node = self.node_parents[node]
        out.reverse()
        return tuple(out)


@attrs.define(slots=True, eq=False)
class Profile:
    """Selected samples aggregated per distinct stack, with names and metadata.

    The stack tree is root first: node ``n`` is frame ``frames[node_frames[n]]``
    called from node ``node_parents[n]`` (:data:`ROOT` for outermost frames);
    a parent's id is always smaller than its children's.  ``leaf_nodes`` /
    ``leaf_counts`` / ``leaf_weights`` hold the samples per node where a stack ends.
    """

    source: str
    filter: SampleFilter
    frames: list[DisplayFrame]
    node_parents: array
    node_frames: array
    leaf_nodes: array
    leaf_counts: array
    leaf_weights: array
    thread_stacks: list[ThreadStack]
    threads: list[ThreadRow]
    meta: dict[str, object] = attrs.field(factory=dict)
    capabilities: list[CapabilityRow] = attrs.field(factory=list)
    lost: dict[str, int] = attrs.field(factory=dict)
    duration_ns: int | None = None
    recorded_samples: int = 0
    """Samples in the whole recording, before the filter."""
    incomplete: str | None = None
    """The "incomplete recording" sentence when stax record did not finish the file, else None."""

    @classmethod
    def from_recording(cls, recording: Recording, flt: SampleFilter = ALL_SAMPLES,
                       builder: DisplayTreeBuilder | None = None, per_thread: bool = True,
                       style: FrameStyle = DEFAULT_STYLE) -> Profile:
        """Aggregate ``recording``'s samples that pass ``flt`` (one SQL ``GROUP BY`` pass), frames
        named and merged as ``style`` says.

        ``builder`` (one made by :func:`display_tree_builder` for this recording) is reused
        and grown, so several selections of one recording map each stack once; the
        profile then shares its node arrays, which later profiles only append to (and names
        frames as the builder's style says).  Without ``per_thread`` the samples are summed
        per stack only and ``thread_stacks`` is empty (a call tree needs no more; a recording
        of many threads aggregates several times faster)."""
        builder = builder if builder is not None else display_tree_builder(recording, style)
        thread_stacks: list[ThreadStack] = []
        per_node: dict[int, list[int]] = {}
        rows = (recording.thread_stack_totals(flt) if per_thread else
                [(0, 0, stack_id, count, weight) for stack_id, count, weight in recording.stack_totals(flt)])
        for pid, tid, stack_id, count, weight in rows:
            node = builder.node_of(stack_id)
            weight = weight or 0
            if per_thread:
                thread_stacks.append(ThreadStack(pid, tid, node, count, weight))
            totals = per_node.get(node)
            if totals is None:
                per_node[node] = [count, weight]
            else:
                totals[0] += count
                totals[1] += weight
        total_fits(recording.path, sum(t[1] for t in per_node.values()), "the sample weights")
        leaf_nodes = array("q", per_node)
        leaf_counts = array("q", (t[0] for t in per_node.values()))
        leaf_weights = array("q", (t[1] for t in per_node.values()))
        meta = recording.meta()
        # The recorder's own duration covers idle time too; a filtered view spans its samples.
        duration = duration_from_meta(meta) if flt.is_empty() else None
        if duration is None:
            span = recording.time_range(flt)
            duration = span[1] - span[0] if span is not None else None
        return cls(
            source=str(recording.path),
            filter=flt,
            frames=builder.frames,
            node_parents=builder.node_parents,
            node_frames=builder.node_frames,
            leaf_nodes=leaf_nodes,
            leaf_counts=leaf_counts,
            leaf_weights=leaf_weights,
            thread_stacks=thread_stacks,
            threads=recording.threads(),
            meta=meta,
            capabilities=recording.capabilities(),
            lost=recording.lost(),
            duration_ns=duration,
            recorded_samples=_int(meta.get(mk.SAMPLE_COUNT)) or recording.sample_count(),
            incomplete=recording_incomplete_notice(recording, meta),
        )

    @classmethod
    def from_path(cls, path: str | Path, flt: SampleFilter = ALL_SAMPLES,
                  style: FrameStyle = DEFAULT_STYLE) -> Profile:
        """Open, aggregate and close a recording file."""
        recording = Recording.open(path)
        try:
            return cls.from_recording(recording, flt, style=style)
        finally:
            recording.close()

    # -- totals ---------------------------------------------------------------------------------

    @property
    def sample_count(self) -> int:
        """Samples selected by the filter (the 100% of every percentage)."""
        return sum(self.leaf_counts)

    @property
    def total_weight(self) -> int:
        """CPU time the selected samples stand for, in ns."""
        return sum(self.leaf_weights)

    @property
    def node_count(self) -> int:
        return len(self.node_frames)

    def frame_of(self, node: int) -> DisplayFrame:
        return self.frames[self.node_frames[node]]

    def path(self, node: int) -> list[int]:
        """Display frame ids from the outermost frame down to ``node``."""
        out: list[int] = []
        parents, frames = self.node_parents, self.node_frames
        while node != ROOT:
            out.append(frames[node])
            node = parents[node]
        out.reverse()
        return out

    def samples_text(self) -> str:
        """What the samples count, for a view's header: ``samples`` (of cpu-clock), or e.g.
        ``page-faults samples (one per 10 events)`` for a recording made with ``-e`` / ``-c``."""
        from stax.analysis.sample_weight import DEFAULT_EVENT, sample_weight

        event = sample_weight(self.meta).event
        if event == DEFAULT_EVENT:
            return "samples"
        period = self.meta.get(mk.BACKEND_SAMPLE_PERIOD.key)
        per = f" (one per {period:,} events)" if isinstance(period, int) and period > 1 else ""
        return f"{event} samples{per}"

    def capability_notes(self) -> list[str]:
        """Plain sentences about what this recording could not capture, and why.

        Only the rows that change what an on-CPU view shows (stacks, sampling) are
        listed; ``stax doctor`` shows the whole capability table.
        """
        recorded = self.meta.get(mk.NOTES)
        notes = [str(n) for n in recorded if n] if isinstance(recorded, list) else []
        if notes:  # the recorder's own notes already say what is missing
            return notes
        lacking = (row.note for row in self.capabilities
                   if row.capability in ON_CPU_CAPABILITIES and row.status is CapabilityStatus.UNAVAILABLE
                   and row.reason)
        first = next(lacking, None)
        return [] if first is None else [first]

    def lost_total(self) -> int:
        return sum(self.lost.values())


def display_tree_builder(recording: Recording, style: FrameStyle = DEFAULT_STYLE,
                         drop_non_code: bool = False) -> DisplayTreeBuilder:
    """A new :class:`DisplayTreeBuilder` over ``recording``'s frames and stack table, frames named
    and merged as ``style`` says (:mod:`stax.analysis.frame_names`)."""
    return DisplayTreeBuilder(frame_labels(recording, style), *recording.stack_arrays(), recording.path,
                              style, inline_details(recording, style) if style.lines else None,
                              drop_non_code)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def duration_from_meta(meta: dict[str, object]) -> int | None:
    """The capture duration the recorder wrote, if any (``duration_ns`` or seconds)."""
    ns = _int(meta.get(mk.DURATION_NS))
    if ns is not None:
        return ns
    seconds = meta.get(mk.DURATION_S, meta.get(mk.DURATION))
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return int(seconds * 1e9)
    return None
