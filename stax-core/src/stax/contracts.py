"""The objects plugins hand to stax: capture backends, symbol sources, renderers.

Hooks in :mod:`stax.hookspecs` return these.  They are Protocols, so a plugin
needs no base class; the attrs value types here are what crosses the boundary.
What a renderer draws is a :class:`stax.views.ViewKind`, one input type each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

import attrs

from stax.capabilities import CapabilityRow, HostCheck
from stax.events import Event
from stax.views import ViewKind

if TYPE_CHECKING:
    from stax.function_code import FunctionCode
    from stax.stack_table import Image

ViewInput = TypeVar("ViewInput", contravariant=True)
"""The input type of a renderer's view (see :data:`stax.views.VIEW_INPUTS`)."""


@attrs.frozen(slots=True)
class RecordRequest:
    """What the user asked ``stax record`` for, OS-neutral."""

    command: tuple[str, ...] = ()
    pids: tuple[int, ...] = ()
    system_wide: bool = False
    duration: float | None = None
    frequency: int = 999
    call_graph: str = "fp"
    """``fp``: frame pointers with the leaf repaired from a small stack copy (hybrid, Linux);
    ``fp-only``: the kernel's frame-pointer walk alone; ``dwarf``: CFI over a large copy."""
    dwarf_stack_size: int = 0
    """Bytes of user stack copied per sample in ``fp`` and ``dwarf`` mode; 0: the mode's default."""
    kernel_stacks: bool = True
    off_cpu: bool = False
    counters: bool = False
    event: str = "cpu-clock"
    """What a sample counts, in perf's spelling (``-e``): cpu-clock, page-faults, sched:sched_switch, ..."""
    period: int | None = None
    """One sample every ``period`` events (``-c``); None: ``frequency`` samples a second."""
    threads: tuple[int, ...] = ()
    """``-t``: only these threads (of the processes in ``pids``, filled in by the backend)."""

    def target_description(self) -> str:
        if self.command:
            return " ".join(self.command) + (" (system-wide)" if self.system_wide else "")
        if self.threads:
            return "tid " + ",".join(str(t) for t in self.threads)
        if self.pids:
            return "pid " + ",".join(str(p) for p in self.pids)
        return "system-wide"


@attrs.frozen(slots=True)
class CaptureProgress:
    """A live snapshot for the status line while recording."""

    elapsed: float
    samples: int
    lost: int


@attrs.define(slots=True)
class CaptureSummary:
    """What a backend reports when capture ends.

    ``notes`` are plain sentences for the user (e.g. why kernel frames are missing);
    ``metadata`` lands in the recording's meta table.
    """

    samples: int = 0
    lost_records: int = 0
    throttled: int = 0
    target_exit_code: int | None = None
    """The command's exit status as a shell reports it (128 + N when signal N killed it);
    None for -p / -a (:mod:`stax.target_exit`)."""
    target_signal: int | None = None
    """The signal that killed the command, None if it exited (or for -p / -a)."""
    target_stopped: bool = False
    """True when the capture ended the command itself (--duration, Ctrl-C or SIGTERM to stax)."""
    notes: list[str] = attrs.field(factory=list)
    metadata: dict[str, object] = attrs.field(factory=dict)
    duration_s: float | None = None
    """How long events were captured: from the start of sampling until it stopped, without
    the work done after it (DWARF unwinding, the final drain).  None: the caller times it."""


@runtime_checkable
class EventSink(Protocol):
    """Where a backend delivers decoded events: batches, in time order."""

    def consume(self, events: Sequence[Event]) -> None: ...


@runtime_checkable
class CaptureBackend(Protocol):
    """A way to record on one OS (see ``stax_capture_backends``)."""

    name: str
    os_name: str
    """``sys.platform`` value this backend serves: ``"linux"`` or ``"darwin"``."""

    def capabilities(self) -> list[CapabilityRow]:
        """One row per platform-table capability, with reason and fix where unavailable."""
        ...

    def record(
        self,
        request: RecordRequest,
        sink: EventSink,
        progress: Callable[[CaptureProgress], None],
        should_stop: Callable[[], bool],
    ) -> CaptureSummary:
        """Capture until the target exits, ``request.duration`` passes, or ``should_stop()``.

        Raises :class:`stax.errors.StaxError` with one sentence when it cannot start.
        """
        ...


@runtime_checkable
class PrivilegedBroker(Protocol):
    """staxd support for one OS (see ``stax_privileged_brokers``)."""

    os_name: str

    def setup(self, *, dry_run: bool, uninstall: bool, out: IO[str]) -> int:
        """Install (or remove) the service, printing each step; raise StaxError with one sentence."""
        ...

    def doctor_table(self, rows: Sequence[CapabilityRow]) -> list[CapabilityRow | HostCheck]:
        """The ``stax doctor`` rows: the backend's ``rows`` as the broker changes them, then host checks."""
        ...


IMPORT_HEAD_BYTES = 4096
"""How many leading bytes of a file ``stax import`` shows each importer's ``recognizes``."""


@runtime_checkable
class Importer(Protocol):
    """Turns a trace file another tool wrote into a recording (see ``stax_importers``)."""

    name: str
    description: str
    """One line for the list of what ``stax import`` reads: the format and who writes it."""

    def recognizes(self, head: bytes) -> bool:
        """True when ``head`` (the file's first bytes, up to IMPORT_HEAD_BYTES) is this format's."""
        ...

    def import_file(self, path: Path, sink: EventSink) -> CaptureSummary:
        """Decode ``path`` into ``sink`` (batches of ``stax.events``) and summarise it.

        Raises :class:`stax.errors.StaxError` with one sentence when the file cannot be read.
        """
        ...


@attrs.frozen(slots=True)
class SymbolInfo:
    """What one address resolved to.  A list of these, innermost first, is an inline chain."""

    function: str
    symbol_offset: int | None = None
    file: str | None = None
    line: int | None = None
    inlined: bool = False


@attrs.define(slots=True)
class SymbolContext:
    """Shared state for one symbolication pass."""

    cache_dir: Path
    options: Mapping[str, object] = attrs.field(factory=dict)
    warnings: list[str] = attrs.field(factory=list)

    def warn(self, sentence: str) -> None:
        """Report a problem in one sentence; symbolication goes on for everything else."""
        if sentence not in self.warnings:
            self.warnings.append(sentence)


@runtime_checkable
class SymbolSource(Protocol):
    """Names addresses in images (see ``stax_symbol_sources``)."""

    name: str
    order: int
    """Lower runs first; the first source to answer for an address wins."""

    def symbolicate(
        self, image: Image, offsets: Sequence[int], context: SymbolContext
    ) -> Mapping[int, Sequence[SymbolInfo]]:
        """Resolve ``offsets`` (file offsets; absolute addresses for kernel/JIT images).

        Returns only the offsets it could name; an empty mapping for images it does not serve.
        """
        ...


@runtime_checkable
class CacheTokenSource(Protocol):
    """A symbol or code source whose answers for an image can improve later: it says when.

    Answers for an image are cached across runs under its build id *and* the tokens of
    all sources (of symbols, or of code for ``stax annotate``), so a source whose answer
    can get better (a debug file installed, debuginfod reachable again) implements
    ``cache_token`` as well; sources without it are taken to answer the same for the
    same build id forever.
    """

    name: str

    def cache_token(self, image: Image, context: SymbolContext) -> str | None:
        """A string that changes when this source's answers for ``image`` would: e.g. the
        identity of the debug file it would read.  None: nothing to add to the key.

        It must be cheap (a few stat calls), since it runs for every image of every recording.
        """
        ...


@runtime_checkable
class CodeSource(Protocol):
    """Reads the machine code of functions for annotated disassembly (see ``stax_code_sources``)."""

    name: str
    order: int
    """Lower runs first; the first source to return a function holding an offset wins."""

    def function_code(
        self, image: Image, offsets: Sequence[int], context: SymbolContext, max_bytes: int
    ) -> Sequence[FunctionCode]:
        """The functions of ``image`` that hold ``offsets`` (frames' offsets), one each.

        A function larger than ``max_bytes`` comes back with ``code=None`` and status
        ``too-large``.  Only files whose build id matches the image's may be read; an
        empty sequence for images this source does not serve or cannot read.
        """
        ...


@attrs.frozen(slots=True)
class RenderOptions:
    """Options every renderer may honour."""

    format: str | None = None
    """Which of the renderer's ``formats`` to write (``stax render -f NAME:FORMAT``, ``--json``);
    None: its first."""
    inverted: bool = False
    title: str = ""
    limit: int | None = None
    extra: Mapping[str, object] = attrs.field(factory=dict)
    """Options only some renderers know, by name (``collapsed``: ``per_thread``, ``annotate``,
    ``by_reason``)."""


@runtime_checkable
class Renderer(Protocol[ViewInput]):
    """Draws one view of a recording into an output (see ``stax_renderers``).

    ``view`` says which (:class:`stax.views.ViewKind`); ``render`` is handed that view's
    input: a ``Profile`` for ``ViewKind.PROFILE``, an ``OffCpuProfile`` for
    ``ViewKind.OFF_CPU_PROFILE``, and so on (:data:`stax.views.VIEW_INPUTS`).  A renderer
    that draws two views is two objects, usually of one class; they may share a name.
    """

    name: str
    view: ViewKind
    formats: tuple[str, ...]
    """The formats it writes, the default first (``text``, ``json``, ``svg``, ...)."""
    description: str

    def render(self, data: ViewInput, options: RenderOptions, out: IO[str]) -> None: ...
