"""The passes ``stax record`` runs over a recording after capture, in order.

When capture ends, :meth:`stax.recording.writer.RecordingBuilder.finish` commits every
captured row first (a disk that fills up later loses no sample), then runs
:data:`POST_CAPTURE_PASSES` one after the other on the open file, and finally marks it
complete (:meth:`stax.recording.sqlite_writer.RecordingFile.complete`).  Each pass is a
function of a :class:`FinishingRecording`; its docstring says what it derives and why
then.  A failed write in any pass rolls the file back to its last commit.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from stax.address_spaces import JITDUMP_PATHS_OPTION
from stax.blocked_reason import BlockedReason
from stax.recording import event_blocks
from stax.recording import meta_keys as mk
from stax.recording.interner import TRUNCATED_FRAME, StackInterner
from stax.recording.schema import to_sql_u64
from stax.recording.sqlite_writer import RecordingFile
from stax.recording.thread_table import ThreadTable
from stax.trusted_files import PROCESS_OWNERS_OPTION
from stax.wait_site_classifier import classify_wait_site

if TYPE_CHECKING:
    from stax.plugin_manager import StaxPlugins


@attrs.define
class FinishingRecording:
    """What the passes work on: the open file, the interned tables, and the naming options."""

    file: RecordingFile
    interner: StackInterner
    threads: ThreadTable
    plugins: StaxPlugins | None
    symbolicate: bool
    symbol_options: dict[str, object]
    warnings: list[str] = attrs.field(factory=list)
    """One sentence each, for the user (symbol sources that failed, files not found)."""
    span_ns: dict[event_blocks.SiteKey, int] | None = None
    """Off-CPU ns per (reason, wait site, stack id), read once from the span blocks by
    :func:`off_cpu_times` for the passes that need it (before blocked reasons change)."""


def off_cpu_times(rec: FinishingRecording) -> dict[event_blocks.SiteKey, int]:
    """The spans' ns per distinct (reason, wait site, stack id): one decode of the span
    blocks serves every pass, and each then works per distinct stack, not per span."""
    if rec.span_ns is None:
        rec.span_ns = event_blocks.span_times(rec.file.db, rec.file.path) if rec.file.off_cpu_count else {}
    return rec.span_ns


def link_wakeups(rec: FinishingRecording) -> None:
    """Link each off-CPU span to the wakeup that ended it: the wakee's last wakeup inside the span.

    sched_waking fires on the waker's CPU before the switch-in that closes the span,
    so the latest wakeup of that tid with start <= time <= end is the one.  Done once
    at the end, over the decoded blocks (each wakee's wakeup times sorted, a bisection
    per span), rather than per span while capturing.
    """
    if not rec.file.wakeup_count or not rec.file.unlinked_spans:
        return  # none, or the backend linked each span as it closed it (stax.event_columns)
    wakeups = event_blocks.all_wakeups(rec.file.db, rec.file.path)
    by_wakee: dict[int, list[tuple[int, int]]] = {}
    for wakeup_id, (when, tid) in enumerate(zip(wakeups[0], wakeups[5], strict=True)):
        by_wakee.setdefault(tid, []).append((when, wakeup_id))
    times: dict[int, list[int]] = {}
    for tid, pairs in by_wakee.items():
        pairs.sort()  # by time, then id: the last of equal times is the highest id, as before
        times[tid] = [when for when, _ in pairs]

    def link(cols: event_blocks.Columns) -> bool:
        start, end, tid, wakeup = cols[0], cols[1], cols[3], cols[8]
        for i, (s, e, t) in enumerate(zip(start, end, tid, strict=True)):
            found = None
            when = times.get(t)
            if when is not None:
                at = bisect_right(when, e) - 1
                if at >= 0 and when[at] >= s:
                    found = by_wakee[t][at][1]
            wakeup[i] = found
        return True

    event_blocks.rewrite_spans(rec.file.db, rec.file.path, link)


def write_sample_totals(rec: FinishingRecording) -> None:
    """Write the samples per (thread, stack), so every view reads a small table.

    The file counted them from each block as it wrote it (stax.recording.sample_totals).
    ``meta.sample_totals`` tells readers the table is there; a file without it (a
    recorder that was killed) is aggregated from the sample blocks the same way, slower.
    """
    rec.file.db.executemany("INSERT INTO sample_totals VALUES (?,?,?,?,?)", rec.file.totals_rows())
    rec.file.set_meta({mk.SAMPLE_TOTALS: True})


def symbolicate(rec: FinishingRecording) -> None:
    """Name every unique frame through the symbol sources, in their order (stax.symbolication).

    Skipped with ``--no-symbolicate`` (frames stay image+offset).  What came before is
    committed first: naming can take long, and a recorder killed meanwhile keeps it.
    JIT sources find each process's jitdump files through the options, and trust a
    perf map or jitdump only if a uid the process ran as owns it.
    """
    if not rec.symbolicate or rec.plugins is None:
        return
    from stax.symbolication import symbolicate_frames

    rec.file.checkpoint()
    options = rec.symbol_options
    jitdump_paths = rec.interner.address_spaces.jitdump_paths
    if jitdump_paths:
        options.setdefault(JITDUMP_PATHS_OPTION, {pid: tuple(paths) for pid, paths in jitdump_paths.items()})
    rec.threads.note_owners_of_running()
    options.setdefault(PROCESS_OWNERS_OPTION, {
        pid: tuple(sorted(uids)) for pid, uids in rec.threads.owners.items()})
    rec.warnings += symbolicate_frames(rec.file.db, rec.interner.images, rec.interner.frames, rec.plugins,
                                       options)


def keep_function_code(rec: FinishingRecording) -> None:
    """Keep the code of the functions with samples, for ``stax annotate`` (bounded; meta ``code``).

    Runs with symbolication (the code sources read the same binaries), so a file
    recorded with ``--no-symbolicate`` has no code tables and annotate reads the binary.
    """
    if not rec.symbolicate or rec.plugins is None:
        return
    from stax.function_code_store import store_function_code

    blocked: Counter[int] = Counter()
    for (reason, _, stack_id), ns in off_cpu_times(rec).items():
        if reason != "preempted" and stack_id >= 0:
            blocked[stack_id] += ns
    summary, warnings = store_function_code(rec.file.db, rec.interner.images, rec.interner.frames,
                                            rec.interner.stacks, rec.plugins, rec.symbol_options, blocked)
    rec.file.set_meta({mk.CODE: summary.as_meta()})
    rec.warnings += warnings


def reclassify_blocked_reasons(rec: FinishingRecording) -> None:
    """Give each blocked span the reason its named kernel wait site says.

    Backends classify what they can while capturing (e.g. /proc wchan); once frames
    have names, the kernel stack at switch-out decides (stax.wait_site_classifier),
    OS-neutrally.  Preemptions and stacks without named kernel frames keep theirs.
    Decided once per distinct stack, then applied to the blocks' site columns as a map
    (stax.recording.event_blocks.rewrite_span_sites): no per-span lists.
    """
    if not rec.file.off_cpu_count:
        return
    db = rec.file.db
    stack_ids = sorted({stack for reason, _, stack in off_cpu_times(rec)
                        if reason != "preempted" and stack >= 0})
    if not stack_ids:
        return
    names = dict(db.execute("SELECT id, function FROM frames WHERE is_kernel = 1"))
    updates: dict[int, tuple[str, str]] = {}
    is_kernel = rec.interner.frames.is_kernel
    stacks = rec.interner.stacks
    for stack_id in stack_ids:
        kernel_names = []
        for frame_id in stacks.frames_leaf_first(stack_id):
            if not is_kernel[frame_id]:
                break
            kernel_names.append(names.get(frame_id) or "")
        if not any(kernel_names):
            continue
        reason, site = classify_wait_site(kernel_names)
        if reason is not BlockedReason.OTHER:
            updates[stack_id] = (str(reason), site)
    if not updates:
        return

    def decide(key: event_blocks.SiteKey) -> tuple[str, str]:
        reason, site, stack_id = key
        return updates.get(stack_id, (reason, site)) if reason != "preempted" else (reason, site)

    event_blocks.rewrite_span_sites(db, rec.file.path, decide)


def name_truncated_frame(rec: FinishingRecording) -> None:
    """Name the ``[truncated]`` root frame ourselves, whatever the symbol sources said of it."""
    frame_id = rec.interner.truncated_frame_id
    if frame_id is not None:
        rec.file.db.execute("UPDATE frames SET function=? WHERE id=?", (TRUNCATED_FRAME, frame_id))


def write_mappings(rec: FinishingRecording) -> None:
    """Keep where each image was mapped at the end (earlier mappings live on in the frames)."""
    mappings = rec.interner.address_spaces.mappings()
    rec.file.set_meta({mk.ADDRESS_MAPPINGS: len(mappings)})
    rec.file.db.executemany(
        "INSERT INTO mappings VALUES (?,?,?,?,?)",
        ((pid, img, to_sql_u64(s), to_sql_u64(e), off) for pid, img, s, e, off in mappings),
    )


PostCapturePass = Callable[[FinishingRecording], None]

POST_CAPTURE_PASSES: tuple[PostCapturePass, ...] = (
    link_wakeups,
    write_sample_totals,
    symbolicate,
    keep_function_code,
    reclassify_blocked_reasons,
    name_truncated_frame,
    write_mappings,
)
"""The order matters: code is found and blocked reasons are read from the names symbolication wrote."""
