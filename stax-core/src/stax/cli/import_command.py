"""``stax import FILE``: turn a trace another tool recorded into a ``.stax`` recording.

The command knows no format: each importer (the ``stax_importers`` hook) says
whether it recognises the file's first bytes, and the first that does decodes the
file into the same :class:`~stax.recording.writer.RecordingBuilder` ``stax record``
feeds, so everything after (symbols, off-CPU links, the views) is shared.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from stax.contracts import IMPORT_HEAD_BYTES, Importer
from stax.errors import StaxError, UsageError
from stax.recording import meta_keys as mk
from stax.text_safety import printable


def _read_head(path: Path) -> bytes:
    if not path.exists():
        raise UsageError(f"{path} does not exist; give the path of a trace file to import.")
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give the path of a trace file to import.")
    try:
        with path.open("rb") as f:
            return f.read(IMPORT_HEAD_BYTES)
    except OSError as exc:
        raise StaxError(f"Cannot read {path} ({exc.strerror}); check its permissions.") from None


def choose_importer(path: Path, importers: list[Importer]) -> Importer:
    """The first importer that recognises ``path``'s first bytes; one sentence when none does."""
    head = _read_head(path)
    for importer in importers:
        if importer.recognizes(head):
            return importer
    if not importers:
        raise StaxError(f"No trace importer is installed, so {path} cannot be imported; install one"
                        f" (pip install stax-backend-linux reads perf.data, stax-backend-macos Apple ktrace"
                        f" files).")
    known = "; ".join(f"{i.name}: {i.description}" for i in importers)
    raise StaxError(f"{path} is not a trace stax can import: no installed importer recognises its"
                    f" contents (installed: {known}).")


def import_trace(
    file: Path,
    /,
    *,
    output: Annotated[Path | None, Parameter(name=["-o", "--output"])] = None,
    no_symbolicate: Annotated[bool, Parameter(name=["--no-symbolicate"], negative="")] = False,
    no_debuginfod: Annotated[bool, Parameter(name=["--no-debuginfod"], negative="")] = False,
    quiet: Annotated[bool, Parameter(name=["-q", "--quiet"], negative="")] = False,
    force: Annotated[bool, Parameter(name=["--force"], negative="")] = False,
) -> int:
    """Import a trace recorded by another tool into a .stax recording.

    The format is recognised by the file's contents, not its name: ``stax import
    perf.data -o rec.stax`` reads a Linux ``perf record`` file (samples with callchains,
    sched_switch / --switch-events as off-CPU time, sched_waking as wakeups), and
    ``stax import trace.ktrace -o trace.stax`` an Apple ktrace/artrace file recorded on
    a Mac (kperf samples, scheduler events, dyld image loads), so either can be explored
    with ``stax top``, ``stax threads``, ``stax wakers`` and the rest.

    Parameters
    ----------
    file
        The trace file to import.
    output
        The recording to write (default: the trace's name with .stax, in this directory); an
        existing recording there is kept as NAME.old, and a file that is not a recording is
        never replaced without --force.
    no_symbolicate
        Skip naming frames at the end (names stay as image+offset).
    no_debuginfod
        Do not download debug info from the servers in DEBUGINFOD_URLS.
    quiet
        No summary.
    force
        Write the recording even where a file that is not a recording stands (it is kept as NAME.old).
    """
    from stax.plugin_manager import get_plugins
    from stax.recording.writer import RecordingBuilder

    plugins = get_plugins()
    importer = choose_importer(file, plugins.importers())
    target = output if output is not None else Path(file.name).with_suffix(".stax")
    if target.resolve() == file.resolve():
        raise UsageError(f"The recording would overwrite {file}; give another path with -o.")
    builder = RecordingBuilder(target, plugins, force=force)
    try:
        summary = importer.import_file(file, builder)
    except StaxError:
        builder.abandon()
        raise
    except Exception as exc:  # a third-party importer's bug must not become a traceback
        builder.abandon()
        raise StaxError(f"The {importer.name} importer failed on {file} ({type(exc).__name__}: {exc});"
                        f" report it to the importer's authors.") from None
    builder.set_meta({
        mk.IMPORTED_FROM: str(file),
        mk.IMPORTER: importer.name,
        mk.TARGET: f"imported from {file.name}",
        mk.LOST_RECORDS: summary.lost_records,
        mk.NOTES: summary.notes,
        mk.STAX_VERSION: _version(),
        **{mk.IMPORT_PREFIX + field: value for field, value in summary.metadata.items()},
    })
    warnings = builder.finish(symbolicate=not no_symbolicate,
                              symbol_options={"debuginfod": not no_debuginfod})
    if not quiet:  # notes and warnings may quote names from the trace: printed escaped
        for note in summary.notes:
            print(f"stax: {printable(note)}", file=sys.stderr)
        for warning in warnings[:10]:
            print(f"stax: {printable(warning)}", file=sys.stderr)
        if len(warnings) > 10:
            print(f"stax: ... and {len(warnings) - 10} more symbol warnings.", file=sys.stderr)
        size = target.stat().st_size if target.exists() else 0
        shown = printable(str(target))
        print(f"stax: imported {builder.sample_count:,} samples, {builder.off_cpu_count:,} off-CPU spans and"
              f" {builder.wakeup_count:,} wakeups from {printable(str(file))} ({importer.name});"
              f" wrote {shown} ({size / 1e6:.2f} MB). Next: stax top {shown}", file=sys.stderr)
    return 0


def _version() -> str:
    from stax import __version__

    return __version__
