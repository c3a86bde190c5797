"""``stax record``: capture a profile into a ``.stax`` file.

Flags follow perf record's spellings (``-F``, ``-p``, ``-a``, ``-g``, ``-o``,
``--call-graph``).  The backend for this OS does the capture; the recording
builder turns its events into the file; a status line shows progress; Ctrl-C
(or SIGTERM) stops cleanly and keeps everything recorded so far, and the summary
names the signal.  Every line printed goes through :func:`stax.text_safety.printable`:
notes and symbol warnings can quote paths and names chosen by the profiled program.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from cyclopts import Parameter

from stax import target_exit
from stax.contracts import CaptureBackend, CaptureProgress, CaptureSummary, RecordRequest
from stax.errors import StaxError, UsageError
from stax.recording import meta_keys as mk
from stax.text_safety import printable

if TYPE_CHECKING:
    import cyclopts

# options of `stax record` that take a value: used to find where the command starts
VALUE_OPTIONS = {"-o", "--output", "-F", "--freq", "-p", "--pid", "-d", "--duration", "--call-graph",
                 "-e", "--event", "-c", "--count", "-t", "--tid"}
FREQUENCY_EVENTS = ("cpu-clock", "task-clock", "cycles", "cpu-cycles", "instructions")
"""Events ``-F`` can sample by (clocks, and the PMU's counters as perf does); others take ``-c``."""
DEFAULT_FREQUENCY = 999


def split_command(argv: list[str]) -> list[str]:
    """Insert ``--`` before the profiled command, as perf does: ``stax record ls -l`` works."""
    if "--" in argv:
        return argv
    expecting_value = False
    for index, token in enumerate(argv):
        if expecting_value:
            expecting_value = False
            continue
        if token.startswith("-") and token != "-":
            name = token.split("=", 1)[0]
            expecting_value = name in VALUE_OPTIONS and "=" not in token
            continue
        return argv[:index] + ["--"] + argv[index:]
    return argv


def _parse_pids(text: str, flag: str = "-p", what: str = "process id") -> tuple[int, ...]:
    pids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or int(part) <= 0:
            raise UsageError(f"'{part}' is not a {what}; give {flag} a comma-separated list of {what}s.")
        pids.append(int(part))
    if not pids:
        raise UsageError(f"{flag} needs at least one {what}, e.g. {flag} 1234 or {flag} 1234,5678.")
    return tuple(pids)


def _parse_call_graph(text: str) -> tuple[str, int]:
    """(mode, stack copy size; 0 for the mode's default)."""
    mode, _, size = text.partition(",")
    if mode not in ("fp", "fp-only", "dwarf") or (mode == "fp-only" and size):
        raise UsageError(f"--call-graph {text!r} is not supported; use 'fp[,SIZE]', 'fp-only' or "
                         f"'dwarf[,SIZE]'.")
    if not size:
        return mode, 0
    if not size.isdigit() or not 8 <= int(size) <= 65528:
        raise UsageError(f"--call-graph stack size {size!r} must be a number from 8 to 65528.")
    return mode, int(size) & ~7


class _StatusLine:
    """A live one-line status on a terminal (silent when stderr is not a tty)."""

    def __init__(self, target: str) -> None:
        self.enabled = sys.stderr.isatty()
        self.target = printable(target)
        self.last = 0.0

    def __call__(self, progress: CaptureProgress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.2:
            return
        self.last = now
        lost = f", {progress.lost} lost" if progress.lost else ""
        sys.stderr.write(
            f"\r\x1b[K stax: recording {self.target} — {progress.elapsed:6.1f} s,"
            f" {progress.samples:,} samples{lost}  (Ctrl-C to stop)"
        )
        sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def record(
    *command: str,
    output: Annotated[Path, Parameter(name=["-o", "--output"])] = Path("stax.stax"),
    freq: Annotated[int | None, Parameter(name=["-F", "--freq"])] = None,
    event: Annotated[str, Parameter(name=["-e", "--event"])] = "cpu-clock",
    count: Annotated[int | None, Parameter(name=["-c", "--count"])] = None,
    pid: Annotated[str | None, Parameter(name=["-p", "--pid"])] = None,
    tid: Annotated[str | None, Parameter(name=["-t", "--tid"])] = None,
    all_cpus: Annotated[bool, Parameter(name=["-a", "--all-cpus"], negative="")] = False,
    duration: Annotated[float | None, Parameter(name=["-d", "--duration"])] = None,
    call_graph: Annotated[str, Parameter(name=["--call-graph"])] = "fp",
    g: Annotated[bool, Parameter(name=["-g"], negative="")] = False,
    no_kernel: Annotated[bool, Parameter(name=["--no-kernel"], negative="")] = False,
    off_cpu: Annotated[bool, Parameter(name=["--off-cpu"], negative="--no-off-cpu")] = True,
    counters: Annotated[bool, Parameter(name=["--counters"], negative="")] = False,
    no_symbolicate: Annotated[bool, Parameter(name=["--no-symbolicate"], negative="")] = False,
    no_debuginfod: Annotated[bool, Parameter(name=["--no-debuginfod"], negative="")] = False,
    quiet: Annotated[bool, Parameter(name=["-q", "--quiet"], negative="")] = False,
    force: Annotated[bool, Parameter(name=["--force"], negative="")] = False,
    serve: Annotated[bool, Parameter(name=["--serve"], negative="")] = False,
) -> int:
    """Record a CPU profile of a command, running processes, or the whole system.

    Examples: ``stax record -- ./my-program --its-flag``, ``stax record -p 1234 --duration 10``,
    ``stax record -a -F 99 -d 5 -o system.stax``.

    Exit status: the command's own, as perf record (128 + N when signal N killed it, and the
    summary names the signal); 0 when stax ended the command itself (--duration, Ctrl-C) or
    recorded -p / -a; stax's own failures exit 1 (2 for a wrong command line).

    Parameters
    ----------
    command
        The program to run and profile, with its arguments (put them after ``--``).  stax
        then exits with its exit status (128 + N if signal N killed it); stax's own errors
        exit 1, or 2 for a wrong command line.
    output
        The recording file to write; an existing recording there is kept as NAME.old (perf's
        habit), and a file that is not a recording is never replaced without --force.
    freq
        Samples per second per CPU (default 999) of cpu-clock, task-clock, cycles or instructions.
    event
        What a sample counts, in perf's names: cpu-clock (the default), task-clock, page-faults,
        context-switches, cpu-migrations, minor-faults, major-faults, a tracepoint such as
        sched:sched_switch; cycles or instructions with a hardware PMU.
    count
        One sample every this many events (perf's -c; for cpu-clock and task-clock, ns).  The
        default for events other than clocks and PMU counters is every event.
    pid
        Attach to these running processes (comma-separated), including all their threads.
    tid
        Attach to these threads only (comma-separated thread ids).
    all_cpus
        Record every process on every CPU (system-wide); with a command, for as long as it runs.
    duration
        Stop after this many seconds (the profiled command is then terminated).
    call_graph
        Stack unwinding: ``fp[,SIZE]`` (the default: frame pointers walked by the kernel, and the
        leaf frames that keep none, like libc's memset or read, unwound from a SIZE-byte
        stack copy, 512 by default), ``fp-only`` (frame pointers alone) or ``dwarf[,SIZE]``
        (every user frame from its CFI, over an 8192-byte copy by default).
    g
        Record call graphs, as perf's -g: the default unwinding (stax always records stacks).
    no_kernel
        Do not record kernel frames.
    off_cpu
        Also record off-CPU time (on by default): when each thread blocked, for how long,
        why, and who woke it.  ``--no-off-cpu`` records on-CPU samples only.
    counters
        Also record hardware counters per thread: cycles, instructions, L1-D read misses,
        branch misses (needs a hardware PMU; ``stax threads`` shows them with IPC).
    no_symbolicate
        Skip naming frames at the end (faster; names stay as image+offset).
    no_debuginfod
        Do not download debug info from the servers in DEBUGINFOD_URLS.
    quiet
        No status line and no summary.
    force
        Write the recording even where a file that is not a recording stands (it is kept as NAME.old).
    serve
        Then open the recording in the browser (``stax serve``, from the stax-web plugin).
    """
    from stax.call_graph_hint import call_graph_hint
    from stax.plugin_manager import get_plugins
    from stax.recording.writer import RecordingBuilder

    request = _request(command, pid, all_cpus, duration, freq, call_graph, no_kernel=no_kernel,
                       off_cpu=off_cpu, counters=counters, event=event, count=count, tid=tid)
    serve_app = _serve_command() if serve else None  # before recording: a missing plugin says so now
    plugins = get_plugins()
    backend = plugins.backend_for_this_os()
    capabilities = backend.capabilities()

    stop_signal: int | None = None

    def on_stop_signal(signum: int, frame: object) -> None:
        nonlocal stop_signal
        stop_signal = signum

    previous = signal.signal(signal.SIGINT, on_stop_signal)
    previous_term = signal.signal(signal.SIGTERM, on_stop_signal)
    builder = RecordingBuilder(output, plugins, force=force)
    status = _StatusLine(request.target_description()) if not quiet else None
    started = time.monotonic()
    try:
        try:
            summary = backend.record(
                request, builder, status or (lambda progress: None), lambda: stop_signal is not None
            )
        except StaxError:
            builder.abandon()
            raise
        finally:
            if status:
                status.clear()
        # the capture itself, not the unwinding and draining after it (when the backend says)
        elapsed = summary.duration_s if summary.duration_s is not None else time.monotonic() - started
        builder.set_capabilities(capabilities)
        builder.set_meta(_recording_meta(request, backend, summary, elapsed))
        warnings = builder.finish(
            symbolicate=not no_symbolicate, symbol_options={"debuginfod": not no_debuginfod}
        )
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
    if not quiet:
        for note in summary.notes:
            print(f"stax: {printable(note)}", file=sys.stderr)
        for warning in warnings[:10]:
            print(f"stax: {printable(warning)}", file=sys.stderr)
        if len(warnings) > 10:
            print(f"stax: ... and {len(warnings) - 10} more symbol warnings.", file=sys.stderr)
        if hint := call_graph_hint(output, request.call_graph):  # fp stacks cut short: suggest dwarf
            print(f"stax: {printable(hint)}", file=sys.stderr)
        size = output.stat().st_size if output.exists() else 0
        lost = f", {summary.lost_records} lost" if summary.lost_records else ", 0 lost"
        throttled = f", throttled {summary.throttled}x" if summary.throttled else ""
        repaired = summary.metadata.get(mk.BACKEND_HYBRID_REPAIRED.field)
        if repaired is not None:
            looked = summary.metadata.get(mk.BACKEND_HYBRID_STACKS.field, 0)
            throttled += f", {repaired:,} of {looked:,} stacks repaired"
        stopped = f" (stopped by {_signal_text(stop_signal)})" if stop_signal is not None else ""
        shown = printable(str(output))
        print(
            f"stax: recorded {builder.sample_count:,} samples in {elapsed:.2f} s{lost}{throttled}"
            f"{stopped}{_fate_text(summary)}; wrote {shown} ({size / 1e6:.2f} MB). Next: stax top {shown}",
            file=sys.stderr,
        )
    if serve_app is not None:
        return serve_app(["serve", str(output)], result_action="return_value", exit_on_error=False,
                         print_error=False)
    return _exit_status(request, summary, stop_signal)


def _exit_status(request: RecordRequest, summary: CaptureSummary, stop_signal: int | None) -> int:
    """The command's own exit status (128 + N if signal N killed it), as perf record exits; 0 when
    there is no command or stax ended it itself (--duration, Ctrl-C, SIGTERM to stax).  stax's own
    failures never get here: they raise and exit 1 (2 for a wrong command line)."""
    if not request.command or summary.target_stopped or stop_signal is not None:
        return 0
    return summary.target_exit_code or 0


def _fate_text(summary: CaptureSummary) -> str:
    """How the command ended when it did not end well: "; the command was killed by SIGSEGV ..."."""
    if summary.target_signal is not None and not summary.target_stopped:
        return (f"; the command was killed by {target_exit.signal_name(summary.target_signal)}"
                f" (exit status {summary.target_exit_code})")
    if summary.target_exit_code and not summary.target_stopped:
        return f"; the command exited with status {summary.target_exit_code}"
    return ""


def _serve_command() -> cyclopts.App:
    """The CLI with a ``serve`` command, found like any plugin command (core never imports
    stax-web), or the sentence saying how to get one."""
    from stax.cli.app import build_app

    app = build_app()
    if "serve" not in app:
        from stax.install_hint import install_from_clone

        raise UsageError("--serve opens the recording in the browser through the stax-web plugin,"
                         f" which is not installed; install it ({install_from_clone('stax-web')}) or leave"
                         " out --serve.")
    return app


def _request(command: tuple[str, ...], pid: str | None, all_cpus: bool, duration: float | None,
             freq: int | None, call_graph: str, *, no_kernel: bool, off_cpu: bool, counters: bool,
             event: str = "cpu-clock", count: int | None = None, tid: str | None = None) -> RecordRequest:
    """The request the flags make, checked here once: backends check only what their host allows
    (the kernel's maximum rate, whether the pids exist, which events it has)."""
    targets = sum(bool(x) for x in (command, pid, tid, all_cpus))
    if targets == 0:
        raise UsageError("Nothing to record; give a command after --, -p PID, -t TID, or -a.")
    if targets > 1 and not (targets == 2 and command and all_cpus):  # -a -- CMD: perf's system-wide run
        raise UsageError("Give only one target: a command, -p PID, -t TID, or -a (or -a with a command).")
    if freq is not None and count is not None:
        raise UsageError("Give -F (samples per second) or -c (one sample every N events), not both.")
    if freq is not None and event not in FREQUENCY_EVENTS:
        raise UsageError(f"-F samples cpu-clock, task-clock, cycles or instructions by time; -e {event}"
                         " is sampled by count: give -c N (one sample every N events; the default is"
                         " every event).")
    if count is not None and count <= 0:
        raise UsageError(f"-c {count} must be a positive number of events.")
    period = count if count is not None or event in FREQUENCY_EVENTS else 1
    freq = DEFAULT_FREQUENCY if freq is None else freq
    if not 1 <= freq <= 100_000:
        raise UsageError(f"-F {freq} is out of range; use a frequency from 1 to 100000 Hz.")
    if duration is not None and duration <= 0:
        raise UsageError("--duration must be a positive number of seconds.")
    mode, stack_size = _parse_call_graph(call_graph)
    return RecordRequest(
        command=tuple(command),
        pids=_parse_pids(pid) if pid else (),
        threads=_parse_pids(tid, "-t", "thread id") if tid else (),
        event=event,
        period=period,
        system_wide=all_cpus,
        duration=duration,
        frequency=freq,
        call_graph=mode,
        dwarf_stack_size=stack_size,
        kernel_stacks=not no_kernel,
        off_cpu=off_cpu,
        counters=counters,
    )


def _recording_meta(request: RecordRequest, backend: CaptureBackend, summary: CaptureSummary,
                    elapsed: float) -> dict[str, object]:
    """The meta rows ``stax record`` owns: the request, this host, the summary, and the backend's
    own metadata under ``backend.`` (the recording builder writes its state and counts itself)."""
    uname = os.uname()
    return {
        mk.COMMAND_LINE: list(request.command),
        mk.TARGET: request.target_description(),
        mk.HOST: uname.nodename,
        mk.OS: sys.platform,
        mk.KERNEL: uname.release,
        mk.BACKEND: backend.name,
        mk.FREQUENCY: request.frequency if request.period is None else None,
        mk.CALL_GRAPH: request.call_graph,
        mk.DURATION_S: round(elapsed, 6),
        mk.LOST_RECORDS: summary.lost_records,
        mk.THROTTLED: summary.throttled,
        mk.NOTES: summary.notes,
        mk.STAX_VERSION: _version(),
        mk.TARGET_EXIT_CODE: summary.target_exit_code,
        **{mk.BACKEND_PREFIX + field: value for field, value in summary.metadata.items()},
    }


def _signal_text(signum: int) -> str:
    """``Ctrl-C`` for SIGINT (what a terminal sends), the signal's name otherwise (``SIGTERM``)."""
    return "Ctrl-C" if signum == signal.SIGINT else target_exit.signal_name(signum)


def _version() -> str:
    from stax import __version__

    return __version__
