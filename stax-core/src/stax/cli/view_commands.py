"""``stax top``, ``flamegraph``, ``collapse``, ``render`` and ``export``: views of a recording.

Each command builds the input of its view (:mod:`stax.cli.view_inputs`): a
:class:`stax.analysis.profile.Profile` filtered by pid, tid or thread name (perf
report's spellings), or with ``--off-cpu`` an
:class:`stax.analysis.off_cpu_profile.OffCpuProfile` (blocked time per stack and
reason).  It hands it to the renderer of that view and name found through the plugin
manager, so core never imports ``stax-render`` and a third-party renderer is used
exactly like a built-in one.  ``stax render`` draws any view the named renderer
declares; ``stax export`` is the same path, for the renderers that write another tool's
format (pprof, speedscope, Firefox Profiler, folded stacks).  A recording that ``stax
record`` did not finish (killed, out of disk space) is shown as far as it goes, with the
"incomplete recording" sentence on stderr (a field of the JSON output instead:
``Profile.incomplete``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated, Literal

import attrs
from cyclopts import Group, Parameter

from stax.analysis.frame_names import FrameStyle
from stax.cli.view_inputs import BUILT_BY_RENDER, load_view
from stax.contracts import Renderer, RenderOptions
from stax.errors import UsageError
from stax.recording.reader import SampleFilter
from stax.text_safety import printable
from stax.views import ViewKind

DEFAULT_RECORDING = Path("stax.stax")
"""What ``stax record`` writes when given no ``-o``, so ``stax top`` alone finds it."""

SELECTION = Group("Sample selection", sort_key=1)


@Parameter(name="*", group=SELECTION)
@dataclass
class Selection:
    """Which samples a view looks at (all when none is given)."""

    pid: Annotated[list[str] | None, Parameter(name=["-p", "--pid"], negative="")] = None
    """Only samples of these processes; repeat the flag or comma-separate (1234,5678)."""
    tid: Annotated[list[str] | None, Parameter(name=["-t", "--tid"], negative="")] = None
    """Only samples of these threads; repeat the flag or comma-separate."""
    comm: Annotated[list[str] | None, Parameter(name=["--comm"], negative="")] = None
    """Only threads whose name, or whose process's name, is one of these."""

    def to_filter(self) -> SampleFilter:
        return SampleFilter(
            pids=frozenset(_ids(self.pid, "--pid", "process")),
            tids=frozenset(_ids(self.tid, "--tid", "thread")),
            comms=frozenset(name for value in self.comm or () for name in value.split(",") if name),
        )

    def describe(self) -> str:
        parts = [f"{flag} {','.join(values)}" for flag, values in
                 (("--pid", self.pid), ("--tid", self.tid), ("--comm", self.comm)) if values]
        return " ".join(parts)


FRAMES = Group("Frames", sort_key=2)


@Parameter(name="*", group=FRAMES)
@dataclass
class Frames:
    """How frames are named and merged (what the recording holds is never changed)."""

    demangle: Annotated[bool, Parameter(name="--demangle", negative="--no-demangle")] = True
    """C++ and Rust names demangled (``--no-demangle``: as the binary spells them)."""
    inline: Annotated[bool, Parameter(name="--inline", negative="--no-inline")] = True
    """Calls the compiler inlined as frames of their own (``--no-inline``: their time goes to
    the function they were inlined into, as perf report shows it)."""

    def style(self, lines: bool = False) -> FrameStyle:
        return FrameStyle(demangle=self.demangle, inline=self.inline, lines=lines)


def _ids(values: list[str] | None, flag: str, what: str) -> list[int]:
    out: list[int] = []
    for value in values or ():
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit():
                raise UsageError(f"'{part}' is not a {what} id; give {flag} numbers, e.g. {flag} 1234.")
            out.append(int(part))
    return out


def _renderer(name: str, view: ViewKind) -> Renderer[object]:
    from stax.plugin_manager import get_plugins

    return get_plugins().renderer(name, view)


@contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    """stdout, or ``-o PATH`` as :func:`stax.trusted_files.text_output` allows: a regular
    file written whole (a failure leaves none), a device such as /dev/null written through."""
    if path is None or str(path) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    from stax.trusted_files import text_output

    with text_output(path) as handle:
        yield handle


def _wrote(path: Path | None) -> None:
    if path is not None and str(path) != "-" and path.is_file():
        size = path.stat().st_size / 1024
        print(f"stax: wrote {printable(str(path))} ({size:,.0f} KiB)", file=sys.stderr)


def top(
    recording: Path = DEFAULT_RECORDING,
    /,
    *,
    limit: Annotated[int, Parameter(name=["-n", "--limit"])] = 20,
    selection: Selection | None = None,
    frames: Frames | None = None,
    json_output: Annotated[bool, Parameter(name="--json", negative="")] = False,
    off_cpu: Annotated[bool, Parameter(name="--off-cpu", negative="")] = False,
    kernel_common: Annotated[bool, Parameter(name="--kernel-common", negative="--no-kernel-common")] = False,
    sort: Annotated[Literal["self", "total", "samples"], Parameter(name="--sort")] = "self",
    by: Annotated[Literal["function", "image", "file", "comm", "thread"],
                  Parameter(name="--by")] = "function",
    lines: Annotated[bool, Parameter(name="--lines", negative="")] = False,
) -> int:
    """Show the functions that used the most CPU: self and total samples, image, kernel marker.

    Self counts samples where the function itself was running; total counts samples
    where it was anywhere on the stack (its callees included). ``[k]`` marks kernel
    code, ``[.]`` user code. Example: ``stax top rec.stax -n 10 --comm myprog``.

    With ``--off-cpu``: the functions threads were blocked in, by inclusive blocked time
    (every off-CPU span whose stack passes through the function), with the reasons
    (sleep, lock, disk-io, ...); runnable wait (preempted) is shown apart in the header.
    The kernel frames every blocked stack passes through (system call entry, ``schedule``)
    are named in the header rather than ranked, so the first rows are where blocked stacks
    differ; frames that are not code (``[unknown]+0x...``: an address no mapping holds) are
    dropped from the stacks and counted in the header.

    Parameters
    ----------
    recording
        The .stax file written by ``stax record``.
    limit
        How many functions to show (-1 for all).
    json_output
        Print JSON (samples, functions, threads) instead of a table.
    off_cpu
        Rank by blocked (off-CPU) time instead of CPU samples.
    kernel_common
        With --off-cpu: rank the kernel frames every blocked stack shares too
        (``--no-kernel-common``, the default, names them in the header instead).
    sort
        The order of the rows: ``self`` (CPU time in the row's own code, perf report's
        overhead), ``total`` (CPU time with the row anywhere on the stack, perf report
        --children's order) or ``samples`` (sample count in the row's own code).
    by
        What a row is: a ``function``, an ``image`` (executable or library, perf's dso),
        a source ``file``, a ``comm`` (thread name) or a ``thread``.
    lines
        A row per function and source line (``file:line``, from debug info) instead of
        per function.
    """
    if kernel_common and not off_cpu:
        raise UsageError("--kernel-common ranks the kernel frames all blocked stacks share; use it"
                         " with --off-cpu.")
    if off_cpu and (sort != "self" or by != "function" or lines):
        raise UsageError("--sort, --by and --lines arrange the on-CPU table; `stax top --off-cpu`"
                         " ranks functions by blocked time.")
    if lines and by != "function":
        raise UsageError(f"--lines splits functions by source line; use it without --by {by}.")
    profile = load_view(_profile_view(off_cpu), recording, selection or Selection(), None,
                        not json_output, (frames or Frames()).style(lines))
    extra: dict[str, object] = ({"kernel_common": kernel_common} if off_cpu
                                else {"sort": sort, "by": by, "lines": lines})
    options = RenderOptions(limit=limit, format="json" if json_output else "text", extra=extra)
    with _output(None) as out:
        _renderer("top", _profile_view(off_cpu)).render(profile, options, out)
    return 0


def flamegraph(
    recording: Path = DEFAULT_RECORDING,
    /,
    *,
    output: Annotated[Path | None, Parameter(name=["-o", "--output"])] = None,
    inverted: Annotated[bool, Parameter(name=["--inverted"], negative="")] = False,
    title: Annotated[str, Parameter(name=["--title"])] = "",
    selection: Selection | None = None,
    frames: Frames | None = None,
    off_cpu: Annotated[bool, Parameter(name="--off-cpu", negative="")] = False,
) -> int:
    """Write an interactive flame graph: one standalone SVG to open in a browser.

    Click a frame to zoom, "Reset Zoom" to go back, "Search" (or Ctrl-F) to highlight
    functions matching a regular expression and see their share of samples.
    ``--off-cpu`` draws blocked time instead: widths are time off the CPU, colours are
    blocked reasons (see the legend), tooltips give ms and the split by reason.

    Parameters
    ----------
    recording
        The .stax file written by ``stax record``.
    output
        The SVG file to write (default: the recording's name with .svg; ``-`` for stdout).
    inverted
        Draw an icicle graph of the inverted call tree: functions on CPU at the top,
        their callers below.
    title
        The title shown at the top of the graph.
    off_cpu
        Draw blocked (off-CPU) time, coloured by blocked reason, instead of CPU samples.
    """
    profile = load_view(_profile_view(off_cpu), recording, selection or Selection(), None, True,
                        (frames or Frames()).style())
    output = output if output is not None else recording.with_suffix(".svg")
    with _output(output) as out:
        _renderer("flamegraph", _profile_view(off_cpu)).render(
            profile, RenderOptions(format="svg", inverted=inverted, title=title), out)
    _wrote(output)
    return 0


def collapse(
    recording: Path = DEFAULT_RECORDING,
    /,
    *,
    output: Annotated[Path | None, Parameter(name=["-o", "--output"])] = None,
    per_thread: Annotated[bool, Parameter(name=["--per-thread"], negative="")] = False,
    annotate: Annotated[bool, Parameter(name=["--annotate"], negative="")] = False,
    selection: Selection | None = None,
    frames: Frames | None = None,
    off_cpu: Annotated[bool, Parameter(name="--off-cpu", negative="")] = False,
    by_reason: Annotated[bool, Parameter(name=["--by-reason"], negative="")] = False,
) -> int:
    """Print folded stacks, ``root;...;leaf COUNT`` per line, for flamegraph.pl or inferno.

    Example: ``stax collapse rec.stax | flamegraph.pl > rec.svg``; off-CPU:
    ``stax collapse rec.stax --off-cpu | flamegraph.pl --countname=ns > off.svg``.

    Parameters
    ----------
    recording
        The .stax file written by ``stax record``.
    output
        Write to this file instead of standard output.
    per_thread
        Start every stack with a ``comm-tid`` frame, one tower per thread.
    annotate
        Suffix kernel frames with ``_[k]``, inlined frames with ``_[i]`` and JIT frames with
        ``_[j]``, which flamegraph.pl (--color=java) and inferno colour differently.
    off_cpu
        Blocked (off-CPU) stacks, the number on each line being blocked nanoseconds.
    by_reason
        With --off-cpu: start every stack with its blocked reason (sleep, lock, ...).
    """
    if by_reason and not off_cpu:
        raise UsageError("--by-reason groups blocked time; use it with --off-cpu.")
    profile = load_view(_profile_view(off_cpu), recording, selection or Selection(), None, True,
                        (frames or Frames()).style())
    options = RenderOptions(format="folded", extra={"per_thread": per_thread, "annotate": annotate,
                                                    "by_reason": by_reason})
    with _output(output) as out:
        _renderer("collapsed", _profile_view(off_cpu)).render(profile, options, out)
    _wrote(output)
    return 0


def render(
    recording: Path = DEFAULT_RECORDING,
    /,
    *,
    format: Annotated[str, Parameter(name=["-f", "--format"])],  # noqa: A002 (the user's word)
    output: Annotated[Path | None, Parameter(name=["-o", "--output"])] = None,
    inverted: Annotated[bool, Parameter(name=["--inverted"], negative="")] = False,
    title: Annotated[str, Parameter(name=["--title"])] = "",
    limit: Annotated[int | None, Parameter(name=["-n", "--limit"])] = None,
    selection: Selection | None = None,
    frames: Frames | None = None,
    off_cpu: Annotated[bool, Parameter(name="--off-cpu", negative="")] = False,
) -> int:
    """Render a recording with any installed renderer, built-in or from a plugin.

    The renderer draws the view it declares: a profile (blocked time with ``--off-cpu``),
    a thread breakdown (``threads``) or wakeup chains (``wakers``). ``stax plugins``
    lists the renderers of each view. Example: ``stax render rec.stax --format top:json``.

    Parameters
    ----------
    recording
        The .stax file written by ``stax record``.
    format
        A renderer name, optionally with one of its formats: ``NAME`` or ``NAME:FORMAT``.
    output
        Write to this file instead of standard output.
    inverted
        Ask the renderer for its inverted (callee-first) view, where it has one.
    title
        A title, for renderers that show one.
    limit
        How many rows, for renderers that show a table (threads, blocked stacks).
    off_cpu
        Hand the renderer blocked time (counts are off-CPU spans, weights blocked ns).
    """
    name, _, kind = format.partition(":")
    return _draw(recording, name, kind, output, selection, frames, off_cpu=off_cpu,
                 options=RenderOptions(inverted=inverted, title=title, limit=limit))


EXPORT_RENDERERS = {"folded": "collapsed"}
"""Export formats drawn by a renderer of another name: folded stacks are ``collapsed``'s."""


def export(
    recording: Path = DEFAULT_RECORDING,
    /,
    *,
    format: Annotated[str, Parameter(name=["-f", "--format"])],  # noqa: A002 (the user's word)
    output: Annotated[Path | None, Parameter(name=["-o", "--output"])] = None,
    annotate: Annotated[bool, Parameter(name=["--annotate"], negative="")] = False,
    selection: Selection | None = None,
    frames: Frames | None = None,
) -> int:
    """Write a recording in another tool's format: pprof, speedscope, Firefox Profiler, folded.

    ``pprof`` (gzipped protobuf: ``go tool pprof``, Pyroscope, Parca, Grafana) has the
    sample types samples, cpu (ns), off_cpu (blocked ns) and runnable_wait (ns), with
    thread and reason labels; ``speedscope`` (JSON) one profile per thread, on- and
    off-CPU time in ns; ``firefox`` (the Firefox Profiler's processed format, JSON) a
    track per thread with user/kernel/off-CPU categories and a marker per off-CPU span;
    ``folded`` the on-CPU stacks for flamegraph.pl and inferno. A recording of an event
    that is not a clock (``-e page-faults``) is weighed in that event's count, named so,
    never as CPU time. Any renderer name works too (``stax plugins`` lists them).
    Example: ``stax export rec.stax -f pprof -o rec.pb.gz``.

    Parameters
    ----------
    recording
        The .stax file written by ``stax record``.
    format
        pprof, speedscope, firefox or folded (or another renderer's name).
    output
        The file to write (default: standard output, unless it is a terminal and the
        format binary, as pprof is).
    annotate
        With ``folded``: suffix kernel frames ``_[k]``, inlined ones ``_[i]``, JIT ones ``_[j]``.
    """
    if annotate and format != "folded":
        raise UsageError("--annotate adds the suffixes of folded stacks; use it with --format folded.")
    return _draw(recording, EXPORT_RENDERERS.get(format, format), "", output, selection, frames,
                 options=RenderOptions(extra={"annotate": annotate} if annotate else {}))


def _draw(recording: Path, name: str, kind: str, output: Path | None, selection: Selection | None,
          frames: Frames | None, *, options: RenderOptions, off_cpu: bool = False) -> int:
    """Build the view renderer ``name`` draws and write it in its format ``kind`` (its first when
    empty): the one path of ``stax render`` and ``stax export``."""
    view, renderer = _render_target(name, off_cpu, recording)
    if kind and kind not in renderer.formats:
        raise UsageError(
            f"Renderer {name!r} does not write {kind!r}; it writes {', '.join(renderer.formats)}."
        )
    kind = kind or renderer.formats[0]
    announce = kind != "json"  # a JSON renderer carries it as a field (``incomplete``)
    data = load_view(view, recording, selection or Selection(), options.limit, announce,
                     (frames or Frames()).style())
    with _output(output) as out:
        renderer.render(data, attrs.evolve(options, format=kind), out)
    _wrote(output)
    return 0


def _profile_view(off_cpu: bool) -> ViewKind:
    return ViewKind.OFF_CPU_PROFILE if off_cpu else ViewKind.PROFILE


def _render_target(name: str, off_cpu: bool, recording: Path) -> tuple[ViewKind, Renderer[object]]:
    """The view ``stax render -f NAME`` builds and the renderer that draws it: blocked time with
    ``--off-cpu``; else the view the renderer named draws (a profile when it draws several)."""
    from stax.plugin_manager import get_plugins

    plugins = get_plugins()
    views = plugins.views_of(name)
    if off_cpu:
        view = ViewKind.OFF_CPU_PROFILE
    elif ViewKind.PROFILE in views or not views:
        view = ViewKind.PROFILE  # (none: the lookup below says it is not installed)
    elif views == [ViewKind.OFF_CPU_PROFILE]:
        raise UsageError(f"Renderer {name!r} draws off-CPU profiles only; add --off-cpu.")
    else:
        view = views[0]
    if view not in BUILT_BY_RENDER:
        raise UsageError(f"Renderer {name!r} draws {view.noun}, not profiles; use"
                         f" `stax {view.command} {recording}`.")
    return view, plugins.renderer(name, view)
