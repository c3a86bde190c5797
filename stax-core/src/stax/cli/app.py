"""The root ``stax`` app: lazy command registration and one-sentence error handling.

Every command is registered by an import string so ``stax --help`` imports no
backend; plugins add their own commands through the ``stax_cli_commands`` hook.
Errors a user can fix are :class:`stax.errors.StaxError`; they print as one line
on stderr with a non-zero exit code, never a traceback.  The line goes through
:func:`stax.text_safety.printable`: it may quote a path or a thread name from a recording.
"""

from __future__ import annotations

import sys

import cyclopts

from stax import __version__
from stax.errors import StaxError
from stax.text_safety import printable

BUILTIN_COMMANDS = {
    "record": "stax.cli.record_command:record",
    "import": "stax.cli.import_command:import_trace",
    "top": "stax.cli.view_commands:top",
    "flamegraph": "stax.cli.view_commands:flamegraph",
    "collapse": "stax.cli.view_commands:collapse",
    "render": "stax.cli.view_commands:render",
    "annotate": "stax.cli.annotate_command:annotate",
    "export": "stax.cli.view_commands:export",
    "threads": "stax.cli.thread_commands:threads",
    "wakers": "stax.cli.thread_commands:wakers",
    "callers": "stax.cli.call_tree_commands:callers",
    "callees": "stax.cli.call_tree_commands:callees",
    "sql": "stax.cli.sql_command:sql",
    "plugins": "stax.cli.plugins_command:plugins",
    "doctor": "stax.cli.doctor_command:doctor",
    "setup": "stax.cli.setup_command:setup",
}

# One line each for `stax --help`: lazy commands are not imported to read their docstrings.
COMMAND_SUMMARIES = {
    "record": "Record a CPU profile (on- and off-CPU) of a command, pids, or the system.",
    "import": "A trace recorded by another tool (Apple ktrace/artrace) as a .stax recording.",
    "top": "Functions by CPU time (or blocked time with --off-cpu).",
    "flamegraph": "An interactive SVG flamegraph (--off-cpu: blocked time by reason).",
    "collapse": "Folded stacks for flamegraph.pl / inferno.",
    "render": "Any installed renderer, by name.",
    "annotate": "A function's instructions with samples per instruction and source lines.",
    "export": "For other tools: pprof, speedscope, Firefox Profiler, folded stacks.",
    "threads": "Per thread: on-CPU, blocked time by reason, runnable wait, wakers.",
    "wakers": "Blocked stacks joined with the stacks that woke them.",
    "callers": "Who called a function: its callers' tree, with samples (perf report -G).",
    "callees": "What a function called: its callees' tree, with samples and self.",
    "sql": "A read-only SQL query over a recording, its samples decoded.",
    "plugins": "What plugins are installed: distribution, version, hooks.",
    "doctor": "What this host lets stax capture, and how to fix what it doesn't.",
    "setup": "Install (or --uninstall) the staxd broker; run with sudo.",
}


def build_app() -> cyclopts.App:
    """Build the CLI: built-ins first, then plugin commands."""
    app = cyclopts.App(
        name="stax",
        help="stax: a sampling CPU profiler. Record with `stax record -- CMD`, then explore"
        " with `stax top`, `stax flamegraph` and `stax collapse`.",
        version=__version__,
    )
    for name, target in BUILTIN_COMMANDS.items():
        app.command(target, name=name, help=COMMAND_SUMMARIES.get(name))
    try:
        from stax.plugin_manager import get_plugins

        get_plugins().add_cli_commands(app)
    except StaxError as exc:
        print(f"stax: {printable(str(exc))}", file=sys.stderr)
    return app


def usage_sentence(exc: cyclopts.CycloptsError, argv: list[str], commands: list[str]) -> str:
    """One sentence for a command line cyclopts could not parse, naming the token and where to look.

    cyclopts' own texts ("Unused Tokens: ['b']", a list of eight commands) read as a
    program's internals; these say what was wrong in the user's words.
    """
    tokens = [str(t) for t in (exc.unused_tokens or [])]
    if isinstance(exc, cyclopts.UnknownCommandError) and tokens:
        import difflib

        close = difflib.get_close_matches(tokens[0], commands, n=1, cutoff=0.6)
        guess = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown command '{tokens[0]}'{guess}; run `stax --help` to see the commands."
    command = argv[0] if argv and not argv[0].startswith("-") else ""  # (an unknown one failed above)
    where = f"`stax {command} --help`" if command else "`stax --help`"
    if isinstance(exc, cyclopts.UnusedCliTokensError) and tokens:
        quoted = ", ".join(f"'{t}'" for t in tokens)
        what = "argument" if len(tokens) == 1 else "arguments"
        name = f"stax {command}" if command else "stax"
        return f"unexpected {what} {quoted} to `{name}`; run {where} to see what it takes."
    message = " ".join(str(exc).split())
    return f"{message} (see {where})"


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code (tests call this)."""
    app = build_app()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "record":
        from stax.cli.record_command import split_command

        argv = ["record", *split_command(argv[1:])]
    try:
        result = app(argv, result_action="return_value", exit_on_error=False, print_error=False)
    except cyclopts.CycloptsError as exc:
        print(f"stax: {printable(usage_sentence(exc, argv, list(BUILTIN_COMMANDS)))}", file=sys.stderr)
        return 2
    except StaxError as exc:
        print(f"stax: {printable(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("stax: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if isinstance(result, int) and not isinstance(result, bool):
        return result
    return 0


def main() -> None:
    sys.exit(run())
