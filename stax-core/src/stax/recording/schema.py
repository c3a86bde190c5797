"""The SQL schema of a ``.stax`` file, version :data:`SCHEMA_VERSION`.

Documented column by column in docs/recording-format.md; change both together and
bump the version.  Version 2 keeps samples in columnar blocks (``sample_blocks``,
stax.recording.sample_blocks) with a ``samples`` view over them; version 3 keeps off-CPU
spans and wakeups in blocks too (``span_blocks``, ``wakeup_blocks``,
stax.recording.event_blocks) behind views of their old names.  The reader still reads
version 1 files, whose ``samples`` is a table (:data:`V1_SAMPLES`), and versions 1 and 2,
whose spans and wakeups are tables (:data:`V2_EVENTS`).  64-bit addresses
are stored as signed integers (two's complement), since SQLite integers are signed:
see :func:`to_sql_u64`.
"""

import re

SCHEMA_VERSION = 3
OLDEST_READABLE_VERSION = 1
BLOCK_SAMPLES = 16_384
"""Samples per ``sample_blocks`` row at most (stax.recording.sample_blocks says why)."""
APPLICATION_ID = 0x53544158  # "STAX", PRAGMA application_id

SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL                 -- JSON
) WITHOUT ROWID;
CREATE TABLE capabilities (
    capability TEXT PRIMARY KEY,
    status     TEXT NOT NULL,           -- available | via staxd | unavailable
    reason     TEXT NOT NULL,
    fix        TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE processes (
    pid          INTEGER PRIMARY KEY,
    parent_pid   INTEGER,
    name         TEXT,
    command_line TEXT,
    start_time   INTEGER,
    end_time     INTEGER
);
CREATE TABLE threads (
    pid        INTEGER NOT NULL,
    tid        INTEGER NOT NULL,
    name       TEXT,
    start_time INTEGER,
    end_time   INTEGER,
    PRIMARY KEY (pid, tid)
) WITHOUT ROWID;
CREATE TABLE images (
    id       INTEGER PRIMARY KEY,
    path     TEXT NOT NULL,
    kind     TEXT NOT NULL,             -- elf | kernel | vdso | jit | macho | unknown
    build_id TEXT,                      -- hex
    pid      INTEGER                    -- set for per-process images (jit, unknown)
);
CREATE TABLE mappings (
    pid         INTEGER NOT NULL,
    image_id    INTEGER NOT NULL REFERENCES images(id),
    start       INTEGER NOT NULL,
    end         INTEGER NOT NULL,
    file_offset INTEGER NOT NULL
);
CREATE TABLE frames (
    id            INTEGER PRIMARY KEY,
    image_id      INTEGER NOT NULL REFERENCES images(id),
    offset        INTEGER NOT NULL,     -- file offset; absolute address for kernel/jit/unknown
    is_kernel     INTEGER NOT NULL,
    is_return     INTEGER NOT NULL DEFAULT 0,  -- a caller's return address: named at offset - 1
    function      TEXT,                 -- NULL: unresolved, shown as image+0xoffset
    symbol_offset INTEGER,
    file          TEXT,
    line          INTEGER
);
CREATE TABLE frame_inlines (
    frame_id INTEGER NOT NULL REFERENCES frames(id),
    depth    INTEGER NOT NULL,          -- 0 = innermost inlined function
    function TEXT NOT NULL,
    file     TEXT,
    line     INTEGER,
    PRIMARY KEY (frame_id, depth)
) WITHOUT ROWID;
CREATE TABLE stacks (
    id        INTEGER PRIMARY KEY,
    parent_id INTEGER NOT NULL,         -- -1 = root
    frame_id  INTEGER NOT NULL REFERENCES frames(id)
);
CREATE TABLE sample_blocks (           -- on-CPU samples, up to 16384 a block (stax.recording.sample_blocks)
    id         INTEGER PRIMARY KEY,     -- 0, 1, ... in writing order
    first_time INTEGER NOT NULL,        -- the earliest sample time in the block, ns
    last_time  INTEGER NOT NULL,        -- the latest
    count      INTEGER NOT NULL,        -- samples in the block
    data       BLOB NOT NULL            -- the six columns, zlib
);
CREATE VIEW samples AS                  -- a row per sample, through stax.recording.sample_sql
    SELECT json_extract(j.value, '$[0]') AS time, json_extract(j.value, '$[1]') AS pid,
           json_extract(j.value, '$[2]') AS tid, json_extract(j.value, '$[3]') AS cpu,
           json_extract(j.value, '$[4]') AS stack_id, json_extract(j.value, '$[5]') AS weight
    FROM sample_blocks b, json_each(stax_sample_rows(b.count, b.data)) j;
CREATE TABLE sample_totals (             -- samples aggregated per (thread, stack), written at the end
    pid      INTEGER NOT NULL,
    tid      INTEGER NOT NULL,
    stack_id INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    weight   INTEGER NOT NULL
);
CREATE TABLE span_blocks (             -- off-CPU spans, up to 16384 a block (stax.recording.event_blocks)
    id         INTEGER PRIMARY KEY,     -- 0, 1, ... in writing order
    first_time INTEGER NOT NULL,        -- the earliest switch-out in the block, ns
    last_time  INTEGER NOT NULL,        -- the latest switch-in
    count      INTEGER NOT NULL,        -- spans in the block
    sites      TEXT NOT NULL,           -- JSON [[reason, wait_site], ...]: the block's site column indexes it
    data       BLOB NOT NULL            -- the eight columns, zlib
);
CREATE VIEW off_cpu_spans AS            -- a row per span, through stax.recording.sample_sql
    SELECT json_extract(j.value, '$[0]') AS start, json_extract(j.value, '$[1]') AS end,
           json_extract(j.value, '$[2]') AS pid, json_extract(j.value, '$[3]') AS tid,
           json_extract(j.value, '$[4]') AS cpu, json_extract(j.value, '$[5]') AS reason,
           json_extract(j.value, '$[6]') AS wait_site, json_extract(j.value, '$[7]') AS stack_id,
           json_extract(j.value, '$[8]') AS wakeup_id
    FROM span_blocks b, json_each(stax_span_rows(b.count, b.sites, b.data)) j;
CREATE TABLE wakeup_blocks (           -- wakeups, up to 16384 a block (stax.recording.event_blocks)
    id         INTEGER PRIMARY KEY,     -- 0, 1, ... in writing order
    first_id   INTEGER NOT NULL,        -- the wakeup id of the block's first wakeup (ids count from 0)
    first_time INTEGER NOT NULL,        -- the earliest wakeup time in the block, ns
    last_time  INTEGER NOT NULL,        -- the latest
    count      INTEGER NOT NULL,        -- wakeups in the block
    data       BLOB NOT NULL            -- the seven columns, zlib
);
CREATE VIEW wakeups AS                  -- a row per wakeup, through stax.recording.sample_sql
    SELECT b.first_id + j.key AS id, json_extract(j.value, '$[0]') AS time,
           json_extract(j.value, '$[1]') AS cpu, json_extract(j.value, '$[2]') AS waker_pid,
           json_extract(j.value, '$[3]') AS waker_tid, json_extract(j.value, '$[4]') AS wakee_pid,
           json_extract(j.value, '$[5]') AS wakee_tid, json_extract(j.value, '$[6]') AS stack_id
    FROM wakeup_blocks b, json_each(stax_wakeup_rows(b.count, b.data)) j;
CREATE TABLE counter_values (
    time  INTEGER NOT NULL,
    pid   INTEGER NOT NULL,
    tid   INTEGER NOT NULL,
    name  TEXT NOT NULL,                -- cycles, instructions, l1d-read-misses, branch-misses
    value INTEGER NOT NULL
);
CREATE TABLE lost (
    cpu   INTEGER NOT NULL,
    kind  TEXT NOT NULL,                -- lost-records | throttled | lost-samples
    count INTEGER NOT NULL,
    PRIMARY KEY (cpu, kind)
) WITHOUT ROWID;
"""

V1_SAMPLES = """
CREATE TABLE samples (
    time     INTEGER NOT NULL,
    pid      INTEGER NOT NULL,
    tid      INTEGER NOT NULL,
    cpu      INTEGER NOT NULL,
    stack_id INTEGER NOT NULL,          -- -1 = empty stack
    weight   INTEGER NOT NULL           -- ns of CPU time this sample stands for
);
"""
"""How version 1 stored samples: one row each (~27 bytes a sample); read, never written."""

V2_EVENTS = """
CREATE TABLE off_cpu_spans (
    start      INTEGER NOT NULL,        -- ns, switch-out
    end        INTEGER NOT NULL,        -- ns, switch-in
    pid        INTEGER NOT NULL,
    tid        INTEGER NOT NULL,
    cpu        INTEGER NOT NULL,        -- CPU it left
    reason     TEXT NOT NULL,           -- a BlockedReason value; 'preempted' = runnable wait
    wait_site  TEXT NOT NULL,           -- the kernel frame / wchan that decided the reason
    stack_id   INTEGER NOT NULL,        -- stack at switch-out, -1 = none
    wakeup_id  INTEGER                  -- the wakeup that ended it, NULL if none was captured
);
CREATE TABLE wakeups (
    id        INTEGER PRIMARY KEY,
    time      INTEGER NOT NULL,
    cpu       INTEGER NOT NULL,
    waker_pid INTEGER NOT NULL,
    waker_tid INTEGER NOT NULL,
    wakee_pid INTEGER NOT NULL,
    wakee_tid INTEGER NOT NULL,
    stack_id  INTEGER NOT NULL          -- the waker's stack, -1 = none
);
"""
"""How versions 1 and 2 stored off-CPU spans and wakeups: one row each (~40 and ~30 bytes);
read, never written."""

CODE_SCHEMA = """
CREATE TABLE IF NOT EXISTS code_functions (  -- functions that hold samples, written at the end
    id       INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images(id),
    name     TEXT NOT NULL,             -- the symbol that bounds it
    offset   INTEGER NOT NULL,          -- first byte, in the space of frames.offset
    address  INTEGER NOT NULL,          -- first byte as linked (what disassembly shows)
    size     INTEGER NOT NULL,
    arch     TEXT NOT NULL,             -- x86_64 | aarch64
    status   TEXT NOT NULL,             -- kept | too-large | over-budget
    code     BLOB                       -- the machine code, NULL unless kept
);
CREATE TABLE IF NOT EXISTS code_files (
    id   INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS code_lines (      -- the line-table rows covering a kept function
    function_id INTEGER NOT NULL REFERENCES code_functions(id),
    address     INTEGER NOT NULL,       -- from this address on ...
    file_id     INTEGER REFERENCES code_files(id),  -- ... this file (NULL: no line) ...
    line        INTEGER NOT NULL        -- ... and line
);
CREATE TABLE IF NOT EXISTS code_inlines (    -- inlined calls inside a kept function
    function_id  INTEGER NOT NULL REFERENCES code_functions(id),
    start        INTEGER NOT NULL,
    end          INTEGER NOT NULL,
    depth        INTEGER NOT NULL,      -- 0 = innermost
    function     TEXT NOT NULL,
    call_file_id INTEGER REFERENCES code_files(id),
    call_line    INTEGER
);
CREATE TABLE IF NOT EXISTS code_symbols (    -- symbols a kept function branches or calls into
    function_id INTEGER NOT NULL REFERENCES code_functions(id),
    address     INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    name        TEXT NOT NULL
);
"""
"""Annotated disassembly (docs/recording-format.md): optional tables (a file may lack them);
a recording without them (an older stax) is annotated from the binary when it still matches."""

def compact(sql: str) -> str:
    """``sql`` without comments and runs of spaces, as the file stores it: SQLite keeps each
    CREATE statement's text (~6 KiB of them here; docs/recording-format.md has the comments)."""
    return re.sub(r"\s+", " ", re.sub(r"--[^\n]*", "", sql))


_U64 = 1 << 64
_I64_MAX = (1 << 63) - 1


def to_sql_u64(value: int) -> int:
    """Map an unsigned 64-bit value onto SQLite's signed integers."""
    return value - _U64 if value > _I64_MAX else value


def from_sql_u64(value: int) -> int:
    return value + _U64 if value < 0 else value
