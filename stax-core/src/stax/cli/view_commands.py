"""``stax top``, ``stax flamegraph``, ``stax collapse`` and ``stax render``: views of a recording.

Each command loads a :class:`stax.analysis.profile.Profile` (filtered by pid, tid
or thread name, with perf report's spellings) and hands it to a renderer found
through the plugin manager by name, so core never imports ``stax-render`` and a
third-party renderer is used exactly like a built-in one.  With ``--off-cpu`` the
profile is an :class:`stax.analysis.off_cpu_profile.OffCpuProfile` (blocked time
per stack and reason) and the same renderers draw blocked time instead of samples.
A recording that ``stax record`` did not finish (killed, out of disk space) is
shown as far as it goes, with the "incomplete recording" sentence on stderr (a
field of the JSON output instead: ``Profile.incomplete``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated

from cyclopts import Group, Parameter

from stax.contracts import PROFILE_VIEW, RenderOptions, renderer_view
from stax.errors import StaxError, UsageError
from stax.recording.reader import SampleFilter
from stax.text_safety import printable

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


def _load(recording: Path, selection: Selection | None):  # -> Profile (imported lazily)
    """Open, filter and aggregate; an empty selection is an error, not an empty table."""
    from stax.analysis.profile import Profile

    selection = selection or Selection()
    profile = Profile.from_path(recording, selection.to_filter())
    if profile.sample_count == 0:
        if selection.describe():
            raise StaxError(
                f"No samples in {recording} match {selection.describe()}; run `stax top {recording}`"
                " without filters to see which threads were recorded."
            )
        raise StaxError(
            f"{recording} holds no samples; record for longer or check that the target runs on CPU."
        )
    return profile


def load_off_cpu(recording: Path, selection: Selection | None):  # -> OffCpuProfile
    """Open, filter and aggregate blocked time; no off-CPU data or no match is one sentence."""
    from stax.analysis.off_cpu_profile import OffCpuProfile

    selection = selection or Selection()
    profile = OffCpuProfile.from_path(recording, selection.to_filter())
    if profile.recorded_spans == 0:
        raise StaxError(no_off_cpu_data_message(recording, profile.meta, profile.capabilities))
    if profile.blocked_spans == 0:
        if profile.preempted_spans == 0:
            raise StaxError(
                f"No off-CPU spans in {recording} match {selection.describe()}; run"
                f" `stax threads {recording}` to see which threads were recorded."
            )
        where = f" matching {selection.describe()}" if selection.describe() else ""
        raise StaxError(
            f"{recording} has no blocked time{where}, only {profile.preempted_ns / 1e6:,.1f} ms of"
            f" runnable wait (preempted) in {profile.preempted_spans:,} spans; `stax threads"
            f" {recording}` shows it per thread."
        )
    return profile


def no_off_cpu_data_message(recording: Path, meta: dict[str, object],
                            capabilities: list[dict[str, str]]) -> str:
    """Why a recording has no off-CPU spans, as one sentence with the fix."""
    from stax.analysis.off_cpu_profile import off_cpu_notes

    notes = off_cpu_notes(meta, capabilities)
    if meta.get("off_cpu") is False or meta.get("backend.off_cpu") is False:
        return (f"{recording} has no off-CPU data: it was recorded with --no-off-cpu; record it"
                f" again without that flag (`stax record -o {recording} -- CMD`).")
    if notes:
        return (f"{recording} has no off-CPU data ({notes[0].rstrip('.')}); fix that and record"
                f" again with `stax record -o {recording} -- CMD`.")
    return (f"{recording} has no off-CPU data; record it again with `stax record -o {recording} --"
            " CMD` (off-CPU capture is on by default; `stax doctor` says whether this host allows it).")


def say_incomplete(notice: str | None) -> None:
    """Print the "incomplete recording" sentence on stderr (text views; JSON carries it as a field)."""
    if notice:
        print(f"stax: {printable(notice)}", file=sys.stderr)


def _renderer(name: str):  # -> Renderer
    from stax.plugin_manager import get_plugins

    return get_plugins().renderer(name)


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
    json_output: Annotated[bool, Parameter(name="--json", negative="")] = False,
    off_cpu: Annotated[bool, Parameter(name="--off-cpu", negative="")] = False,
) -> int:
    """Show the functions that used the most CPU: self and total samples, image, kernel marker.

    Self counts samples where the function itself was running; total counts samples
    where it was anywhere on the stack (its callees included). ``[k]`` marks kernel
    code, ``[.]`` user code. Example: ``stax top rec.stax -n 10 --comm myprog``.

    With ``--off-cpu``: the functions threads were blocked in, by inclusive blocked time
    (every off-CPU span whose stack passes through the function), with the reasons
    (sleep, lock, disk-io, ...); runnable wait (preempted) is shown apart in the header.

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
    """
    profile = load_off_cpu(recording, selection) if off_cpu else _load(recording, selection)
    if not json_output:
        say_incomplete(profile.incomplete)
    options = RenderOptions(limit=limit, extra={"format": "json" if json_output else "text"})
    with _output(None) as out:
        _renderer("top").render(profile, options, out)
    return 0


def flamegraph(
    recording: Path = DEFAULT_RECORDING,
    /,
    *,
    output: Annotated[Path | None, Parameter(name=["-o", "--output"])] = None,
    inverted: Annotated[bool, Parameter(name=["--inverted"], negative="")] = False,
    title: Annotated[str, Parameter(name=["--title"])] = "",
    selection: Selection | None = None,
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
    profile = load_off_cpu(recording, selection) if off_cpu else _load(recording, selection)
    say_incomplete(profile.incomplete)
    output = output if output is not None else recording.with_suffix(".svg")
    with _output(output) as out:
        _renderer("flamegraph").render(profile, RenderOptions(inverted=inverted, title=title), out)
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
        Suffix kernel frames with ``_[k]`` and inlined frames with ``_[i]``, which
        flamegraph.pl (--color=java) and inferno colour differently.
    off_cpu
        Blocked (off-CPU) stacks, the number on each line being blocked nanoseconds.
    by_reason
        With --off-cpu: start every stack with its blocked reason (sleep, lock, ...).
    """
    if by_reason and not off_cpu:
        raise UsageError("--by-reason groups blocked time; use it with --off-cpu.")
    profile = load_off_cpu(recording, selection) if off_cpu else _load(recording, selection)
    say_incomplete(profile.incomplete)
    options = RenderOptions(extra={"per_thread": per_thread, "annotate": annotate,
                                   "by_reason": by_reason})
    with _output(output) as out:
        _renderer("collapsed").render(profile, options, out)
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
    off_cpu: Annotated[bool, Parameter(name="--off-cpu", negative="")] = False,
) -> int:
    """Render a recording with any installed renderer, built-in or from a plugin.

    ``stax plugins`` lists the renderers. Example: ``stax render rec.stax --format top:json``.

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
        How many rows, for renderers that show a table.
    off_cpu
        Hand the renderer blocked time (counts are off-CPU spans, weights blocked ns).
    """
    name, _, kind = format.partition(":")
    renderer = _renderer(name)
    if renderer_view(renderer) != PROFILE_VIEW:
        raise UsageError(f"Renderer {name!r} draws {renderer_view(renderer)}s, not profiles; use"
                         f" `stax {name} {recording}`.")
    if kind and kind not in renderer.formats:
        raise UsageError(
            f"Renderer {name!r} does not write {kind!r}; it writes {', '.join(renderer.formats)}."
        )
    profile = load_off_cpu(recording, selection) if off_cpu else _load(recording, selection)
    kind = kind or renderer.formats[0]
    if kind != "json":  # a JSON renderer carries it as a field (Profile.incomplete)
        say_incomplete(profile.incomplete)
    options = RenderOptions(inverted=inverted, title=title, limit=limit, extra={"format": kind})
    with _output(output) as out:
        renderer.render(profile, options, out)
    _wrote(output)
    return 0
