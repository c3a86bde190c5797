"""Whether a frame-pointer recording's stacks look cut short, so ``stax record`` can suggest DWARF.

A complete user stack ends (at its root) in a process or thread entry point:
``_start`` -> ``__libc_start_call_main`` -> ``main`` for the main thread, ``clone3`` ->
``start_thread`` for the others.  When code is built without frame pointers the
kernel's rbp walk stops early or wanders off, and the root is then some ordinary
function or an unnamed address.  If that is the case for a large share of the
samples, ``--call-graph dwarf`` would give whole stacks; the summary says so in one
sentence.  The heuristic needs names, so it stays silent on unsymbolicated recordings.
"""

from __future__ import annotations

from pathlib import Path

from stax.errors import StaxError
from stax.recording.reader import Recording

ENTRY_FUNCTIONS = frozenset({
    # glibc / musl process and thread entry
    "_start", "_start_c", "__libc_start_main", "__libc_start_main_impl", "__libc_start_call_main",
    "start_thread", "clone", "clone3", "__clone", "__clone3", "__clone_internal", "thread_start",
    "_dl_start", "_dl_start_user", "_dl_start_final",
    # Go runtime roots
    "runtime.goexit", "runtime.goexit.abi0", "runtime.rt0_go", "runtime.rt0_go.abi0", "runtime.mstart",
})
"""Root frames that mean "this stack reached its beginning"."""
MIN_SAMPLES = 50
"""Too few samples say nothing about the program."""
SUGGEST_AT = 0.3
"""The share of samples with an incomplete user stack above which DWARF is suggested."""


def incomplete_share(recording: Recording) -> tuple[int, int]:
    """(samples whose user stack does not start at an entry point, samples with user frames)."""
    labels = recording.frame_labels()
    parents, frames = recording.stack_arrays()
    incomplete = considered = 0
    for stack_id, count, _weight in recording.stack_totals():
        root = -1
        at = stack_id
        while at >= 0:  # kernel frames are leaf-most, so the last user frame is the root
            frame = frames[at]
            if not labels[frame].is_kernel:
                root = frame
            at = parents[at]
        if root < 0:
            continue  # kernel-only stack: nothing to say about user unwinding
        considered += count
        if labels[root].name not in ENTRY_FUNCTIONS:
            incomplete += count
    return incomplete, considered


def call_graph_hint(path: Path, call_graph: str) -> str | None:
    """One sentence suggesting ``--call-graph dwarf`` for a frame-pointer recording whose
    stacks look truncated, or None (DWARF already, too few samples, no names, or fine)."""
    if call_graph not in ("fp", "fp-only"):
        return None
    try:
        recording = Recording.open(path)
    except StaxError:
        return None
    try:
        if not any(label.resolved for label in recording.frame_labels()):
            return None  # recorded with --no-symbolicate: roots cannot be recognised
        incomplete, considered = incomplete_share(recording)
    except StaxError:
        return None
    finally:
        recording.close()
    if considered < MIN_SAMPLES or incomplete / considered < SUGGEST_AT:
        return None
    return (f"{incomplete / considered:.0%} of the user stacks stop before main or a thread entry, as "
            f"happens with code built without frame pointers; record with --call-graph dwarf for whole "
            f"stacks.")
