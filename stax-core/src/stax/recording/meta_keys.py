"""Every key of a recording's ``meta`` table, named once, with what it means.

Writers (the recording builder, ``stax record``, a capture backend) and readers (the
reader, analyses, views) import these names instead of spelling the strings, so a key
cannot be written under one spelling and read under another.  docs/recording-format.md
lists the same keys (tests/core/recording/test_meta_keys.py checks that the two agree).

Values are JSON.  Three owners write disjoint sets of keys, each once:

* the recording builder (:mod:`stax.recording.writer`) and its passes: the file's state
  and what it holds;
* ``stax record`` (:mod:`stax.cli.record_command`): the request, the host and the summary,
  or ``stax import`` (:mod:`stax.cli.import_command`): the file and the importer;
* the capture backend or the importer, through
  :attr:`stax.contracts.CaptureSummary.metadata`: what only it knows.  The command stores
  each of those under ``backend.<field>`` (``import.<field>``); the backend reports
  ``SummaryKey.field``, readers look up ``SummaryKey.key``.

A *family* (``import.machine.*``) names keys whose last part comes from the data.
"""

from __future__ import annotations

import attrs

KEYS: dict[str, str] = {}
"""Every key a recording's meta table may hold -> what it means (the docstring of its constant).
A family is listed as ``prefix*``."""

BACKEND_PREFIX = "backend."
"""Prefix under which ``stax record`` stores the backend's ``CaptureSummary.metadata``."""
IMPORT_PREFIX = "import."
"""Prefix under which ``stax import`` stores the importer's ``CaptureSummary.metadata``."""
FAMILY = "*"


def _key(key: str, doc: str) -> str:
    KEYS[key] = doc
    return key


@attrs.frozen
class SummaryKey:
    """A key a backend or importer reports: ``field`` in its summary, ``key`` in the meta table."""

    prefix: str
    field: str
    doc: str

    @property
    def key(self) -> str:
        return self.prefix + self.field


def _summary(prefix: str, field: str, doc: str, family: bool = False) -> SummaryKey:
    name = SummaryKey(prefix, field, doc)
    KEYS[name.key + (FAMILY if family else "")] = doc
    return name


def _backend(field: str, doc: str) -> SummaryKey:
    return _summary(BACKEND_PREFIX, field, doc)


def _imported(field: str, doc: str, family: bool = False) -> SummaryKey:
    return _summary(IMPORT_PREFIX, field, doc, family)


def is_named(key: str) -> bool:
    """Whether ``key`` is one of :data:`KEYS`, or of one of its families."""
    return key in KEYS or any(name.endswith(FAMILY) and key.startswith(name[:-1]) for name in KEYS)


# -- the recording builder --------------------------------------------------------------------

STATE = _key("state", """``"recording"`` from the file's first commit, ``"complete"`` in the
transaction that finishes it (values in stax.recording.recording_state).""")
SAMPLE_TOTALS = _key("sample_totals", """``true`` once the ``sample_totals`` table is written;
readers aggregate raw ``samples`` when it is missing (a recorder that was killed).""")
SAMPLE_COUNT = _key("sample_count", "On-CPU samples in the ``samples`` table (written when finished).")
OFF_CPU_SPAN_COUNT = _key("off_cpu_spans", "Rows in ``off_cpu_spans`` (written when finished).")
WAKEUP_COUNT = _key("wakeups", "Rows in ``wakeups`` (written when finished).")
ADDRESS_MAPPINGS = _key("address_mappings", "Rows in ``mappings`` (written when finished).")
CODE = _key("code", """What annotate's code tables hold: ``{"functions", "bytes", "too_large",
"over_budget", "max_function_bytes", "max_recording_bytes"}``; missing when no code was kept
(an older stax, --no-symbolicate, or a recorder that was killed).""")

# -- stax record: the request, the host, the summary ------------------------------------------

COMMAND_LINE = _key("command_line", "The profiled command and its arguments (a list; empty for -p / -a).")
TARGET = _key("target", "What was recorded, in words: the command, ``pid N,M`` or ``system-wide``.")
HOST = _key("host", "The host name of the machine that recorded.")
OS = _key("os", "``sys.platform`` of the recording machine (``linux``, ``darwin``).")
KERNEL = _key("kernel", "The kernel release (``uname -r``).")
BACKEND = _key("backend", "The capture backend's name (e.g. ``linux-perf``).")
FREQUENCY = _key("frequency", "The sampling frequency asked for, in Hz (``-F``).")
CALL_GRAPH = _key("call_graph", """How user stacks were unwound: ``fp`` (frame pointers, frameless leaves
repaired from a small stack copy), ``fp-only`` or ``dwarf``.""")
DURATION_S = _key("duration_s", """The capture time in seconds: from the start of sampling to its
stop, without the unwinding and naming after it (``backend.post_capture_s`` gives that).""")
LOST_RECORDS = _key("lost_records", "Records the kernel dropped because a ring buffer was full.")
THROTTLED = _key("throttled", "Times the kernel throttled sampling (kernel.perf_event_max_sample_rate).")
NOTES = _key("notes", "Sentences for the user about what is missing and why (a list).")
STAX_VERSION = _key("stax_version", "The version of stax that recorded.")
TARGET_EXIT_CODE = _key("target_exit_code", "The profiled command's exit status (null for -p / -a).")

# -- stax import: the file and the importer ---------------------------------------------------

IMPORTED_FROM = _key("imported_from",
                     "The trace file ``stax import`` read (target says ``imported from NAME``).")
IMPORTER = _key("importer", "The name of the importer that read it (e.g. ``ktrace``).")

# -- read, never written by stax record -------------------------------------------------------

DURATION_NS = _key("duration_ns", """A capture duration in nanoseconds: read before ``duration_s``
for files written by other tools; stax record does not write it.""")
DURATION = _key("duration", """A capture duration in seconds: read after ``duration_s`` for files
written by other tools; stax record does not write it.""")
OFF_CPU_RECORDED = _key("off_cpu", """``false`` when off-CPU capture was off: read beside
``backend.off_cpu`` for files written by other tools; stax record does not write it.""")

# -- the capture backend (CaptureSummary.metadata), stored as backend.<field> -----------------
# Linux and macOS unless marked.

BACKEND_EVENT = _backend("event", """The sampling event in perf's spelling (``-e``): ``cpu-clock`` by
default, ``task-clock``, ``page-faults``, ``context-switches``, a tracepoint such as
``sched:sched_switch``; ``samples.weight`` is in its unit (ns for the two clocks, events otherwise).""")
BACKEND_SAMPLE_PERIOD_NS = _backend("sample_period_ns", """The CPU time one sample stands for, in ns
(clock events only).""")
BACKEND_SAMPLE_PERIOD = _backend("sample_period", """Events one sample stands for (``-c``, and every event
by default for events that are not clocks); missing for clocks and frequency sampling.""")
BACKEND_TARGET_TIDS = _backend("target_tids", "The thread ids given with -t (a list; -t only).")
BACKEND_KERNEL_STACKS = _backend("kernel_stacks", "Whether kernel frames were recorded.")
BACKEND_CPUS = _backend("cpus", "How many CPUs were online.")
BACKEND_PERF_EVENT_PARANOID = _backend("perf_event_paranoid", "kernel.perf_event_paranoid when recording.")
BACKEND_CLOCK = _backend("clock", "The clock of every time in the file (``CLOCK_MONOTONIC``).")
BACKEND_RING_BUFFER_BYTES = _backend("ring_buffer_bytes_per_cpu", "Data bytes of each CPU's ring buffer.")
BACKEND_POST_CAPTURE_S = _backend("post_capture_s", """Seconds after sampling stopped: the final
drain, decoding and DWARF unwinding (not part of ``duration_s``).""")
BACKEND_LOST_SAMPLES = _backend("lost_samples",
                                "Samples the kernel counted as lost (PERF_RECORD_LOST_SAMPLES).")
BACKEND_DECODER = _backend("decoder", "Which record decoder ran: ``compiled`` (fast_decode.c) or ``python``.")
BACKEND_CAPTURE_STREAM = _backend("capture_stream", "Which drain round ran (order, off-CPU spans, wakeups, "
                                  "stack dedup): ``compiled`` (fast_stream.c) or ``python``.")
BACKEND_TARGET_PID = _backend("target_pid", "The pid of the profiled command (commands only).")
BACKEND_TARGET_PIDS = _backend("target_pids", "The pids given with -p (a list; -p only).")
BACKEND_EVENT_SETS = _backend("event_sets", """Event set -> who opened it: ``in-process`` or
``staxd`` (sampling, context_switch, sched_waking, counters).""")
BACKEND_STAXD_UNUSED = _backend("staxd_unused", "Why staxd was asked and not used, when it was.")
BACKEND_COUNTERS = _backend("counters", "With --counters: whether the counter groups were opened.")
BACKEND_COUNTER_READS = _backend("counter_reads", "With --counters: group reads captured.")
BACKEND_OFF_CPU = _backend("off_cpu", "Whether off-CPU time was recorded (``false`` with --no-off-cpu).")
BACKEND_OFF_CPU_STACKS = _backend("off_cpu_stacks", "Whether switch-outs carry stacks.")
BACKEND_OFF_CPU_REASON_SOURCE = _backend("off_cpu_reason_source", """What decided blocked reasons:
``kernel stack`` (the named wait site) or ``wchan``.""")
BACKEND_OFF_CPU_SPANS = _backend("off_cpu_spans", "Off-CPU spans the capture produced.")
BACKEND_OFF_CPU_PREEMPTED_SPANS = _backend("off_cpu_preempted_spans", "Of those, involuntary (preempted).")
BACKEND_OFF_CPU_SPANS_WITH_STACK = _backend("off_cpu_spans_with_stack", "Of those, with a switch-out stack.")
BACKEND_OFF_CPU_CLOSED_AT_END = _backend("off_cpu_closed_at_end", "Spans still open at the end, closed then.")
BACKEND_SWITCH_RECORDS = _backend("switch_records", "Context-switch records decoded.")
BACKEND_OFF_CPU_THROTTLED = _backend("off_cpu_throttled",
                                     "Times the context-switch or sched_waking events were throttled.")
BACKEND_WAKEUPS_CAPTURED = _backend("wakeups_captured", "Whether sched_waking was opened.")
BACKEND_WAKEUPS_MISSING = _backend("wakeups_missing", "Why wakeups were not captured, when they were not.")
BACKEND_WAKEUPS = _backend("wakeups", "Wakeups kept (the waker or the wakee is in the target).")
BACKEND_WAKEUPS_OUTSIDE_TARGET = _backend("wakeups_outside_target",
                                          "Wakeups dropped: neither side in the target.")
BACKEND_WCHAN_READS = _backend("wchan_reads", "With wchan reasons: /proc wchan reads.")
BACKEND_WCHAN_HITS = _backend("wchan_hits", "With wchan reasons: reads that named a wait site.")
BACKEND_DWARF_STACK_SIZE = _backend("dwarf_stack_size",
                                    "--call-graph fp or dwarf: bytes of user stack copied per sample.")
BACKEND_DWARF_REGS_MASK = _backend("dwarf_regs_mask",
                                   "--call-graph fp or dwarf: the user registers sampled (a bit mask).")
BACKEND_DWARF_SAMPLES = _backend("dwarf_samples", """--call-graph fp or dwarf: samples and off-CPU spans
with a stack copy, unwound.""")
BACKEND_DWARF_SPOOL_BYTES = _backend("dwarf_spool_bytes", """--call-graph dwarf: bytes of the spool file
(0 with fp, which unwinds in the stream).""")
BACKEND_DWARF_STACK_BYTES_PER_SAMPLE = _backend("dwarf_stack_bytes_per_sample", """--call-graph fp or dwarf:
stack bytes kept per sample (mean).""")
BACKEND_DWARF_UNWOUND = _backend("dwarf_unwound", "--call-graph dwarf: samples unwound.")
BACKEND_DWARF_TRUNCATED = _backend("dwarf_truncated",
                                   "--call-graph dwarf: unwound stacks marked [truncated].")
BACKEND_DWARF_STOP_REASONS = _backend("dwarf_stop_reasons", """--call-graph dwarf: why unwinding stopped ->
samples; fp: why a stack was not repaired.""")
BACKEND_DWARF_UNWOUND_EARLY = _backend("dwarf_unwound_early", """--call-graph dwarf: samples unwound during
capture, before an exec or a replaced mapping.""")
BACKEND_DWARF_UNWIND_CPU_S = _backend("dwarf_unwind_cpu_s", """--call-graph fp or dwarf: CPU seconds of
unwinding.""")
BACKEND_HYBRID_STACKS = _backend("hybrid_stacks", """--call-graph fp: user stacks (samples and off-CPU
switch-outs) with a register and stack copy.""")
BACKEND_HYBRID_CHECKED = _backend("hybrid_checked", """--call-graph fp: of those, stacks whose leaf had no
frame pointer set up, unwound with CFI.""")
BACKEND_HYBRID_REPAIRED = _backend("hybrid_repaired", """--call-graph fp: stacks that got back callers the
frame-pointer walk skipped.""")
BACKEND_HYBRID_UNREPAIRED = _backend("hybrid_unrepaired", """--call-graph fp: stacks whose CFI walk did not
reach the frame-pointer chain (kept as the kernel walked them; why: ``dwarf_stop_reasons``).""")
BACKEND_TIMEBASE = _backend("timebase", "macOS: mach_absolute_time ticks per ns as ``numer/denom``.")
BACKEND_RECORDS = _backend("records", "macOS: kdebug records decoded.")

# -- the importer (CaptureSummary.metadata), stored as import.<field> -------------------------

IMPORT_FORMAT = _imported("format", "The trace format and its magic (e.g. ``ktrace v3 (magic 0x...)``).")
IMPORT_OS = _imported("os", "The OS the trace was recorded on (``darwin``, ``linux``).")
IMPORT_TIMEBASE = _imported("timebase", "mach_absolute_time ticks per ns as ``numer/denom``.")
IMPORT_SAMPLE_PERIOD_NS = _imported("sample_period_ns", "The CPU time one sample stands for, in ns.")
IMPORT_SAMPLE_PERIOD_SOURCE = _imported("sample_period_source",
                                        "Where that period came from (the trace, or a default).")
IMPORT_RECORDS = _imported("records", "Trace records decoded.")
IMPORT_DURATION_S = _imported("duration_s", "Seconds from the first to the last record.")
IMPORT_WALLTIME_START = _imported("walltime_start",
                                  "Wall-clock time of the trace's start (Unix seconds), if known.")
IMPORT_DYLD_SHARED_CACHES = _imported("dyld_shared_caches",
                                      "pid -> the dyld shared cache's UUID and base address.")
IMPORT_SKIPPED = _imported("skipped", "What was skipped -> how many (records the decoder could not use).")
IMPORT_EVENTS = _imported("events", "perf.data: each event (perf's name) and what it became (``as``).")
IMPORT_CMDLINE = _imported("cmdline", "perf.data: the command line that recorded it (HEADER_CMDLINE).")
IMPORT_BUILD_IDS = _imported("build_ids", "perf.data: how many files HEADER_BUILD_ID gave a build id.")
IMPORT_MACHINE = _imported("machine.",
                           "The trace's machine description: one key per field (model, OS version).",
                           family=True)
IMPORT_DECODER = _imported("decoder", "perf.data: what read the records: ``compiled`` (fast_stream.c's "
                           "rounds), ``compiled scan`` (fast_decode.c, objects after) or ``python``.")
IMPORT_UNWIND = _imported("unwind.",
                          "perf.data recorded with --call-graph dwarf: how its user stack copies were "
                          "unwound, one key per figure stax record keeps as backend.dwarf_* (dwarf_unwound).",
                          family=True)
