/* The compiled capture stream behind compiled_stream.py (read by fast_decode_build.py as cdef).
 *
 * It takes over from the record scan (fast_decode.c) everything a drain round does to the
 * hot records -- samples, switch records, switch-out stacks, sched_waking -- so none of
 * them becomes a Python object:
 *   1. stax_stream_scan(): scan one ring chunk; each hot record becomes a pending entry
 *      whose stack is deduplicated into the raw stack table (pid, kernel ips, user ips,
 *      truncated -> raw id; id 0 is the empty stack); every other record becomes an
 *      OTHER entry listed in `others` (offset, size, entry index) for the Python decoder,
 *      which then says what it was (stax_stream_set_other / stax_stream_set_hot);
 *      stax_stream_add_other() queues an event known before the rings (time_order.add);
 *   2. stax_stream_round(): time-order the pending entries (time, then arrival: the
 *      round rule of time_order.py) and release those at or before the previous round's
 *      newest time (all of them when `final`), through the off-CPU logic of
 *      switch_tracker.py and wakeup_attribution.py, into output columns: samples, spans
 *      (at their switch-in), wakeups, threads seen for the first time, and marks (an OTHER
 *      entry's place between the columns' rows);
 *   3. stax_stream_finish(): close the spans still open at the end.
 * Python reads the columns (stax_stream_column) and clears them (stax_stream_clear).
 */

#define STAX_OTHER_PLAIN 4
#define STAX_OTHER_START 5   /* FORK: threads[tid] = pid; the tid is alive again */
#define STAX_OTHER_NAME 6    /* COMM: threads[tid] = pid */
#define STAX_OTHER_EXIT 7    /* EXIT: drop the thread's open span and stack */
#define STAX_SKIP 8          /* an OTHER record that decoded into nothing */

/* column ids for stax_stream_column */
#define STAX_COL_SAMPLE_TIME 0
#define STAX_COL_SAMPLE_PID 1
#define STAX_COL_SAMPLE_TID 2
#define STAX_COL_SAMPLE_CPU 3
#define STAX_COL_SAMPLE_WEIGHT 4
#define STAX_COL_SAMPLE_STACK 5
#define STAX_COL_SPAN_START 6
#define STAX_COL_SPAN_END 7
#define STAX_COL_SPAN_PID 8
#define STAX_COL_SPAN_TID 9
#define STAX_COL_SPAN_CPU 10
#define STAX_COL_SPAN_STACK 11
#define STAX_COL_SPAN_WAKER 12     /* -1: none */
#define STAX_COL_SPAN_PREEMPTED 13
#define STAX_COL_WAKE_TIME 14
#define STAX_COL_WAKE_CPU 15
#define STAX_COL_WAKE_WAKER_PID 16
#define STAX_COL_WAKE_WAKER_TID 17
#define STAX_COL_WAKE_WAKEE_PID 18
#define STAX_COL_WAKE_WAKEE_TID 19
#define STAX_COL_WAKE_STACK 20
#define STAX_COL_THREAD_PID 21
#define STAX_COL_THREAD_TID 22
#define STAX_COL_THREAD_TIME 23
#define STAX_COL_MARK_SIDE 24      /* the OTHER entry's side index (set by Python) */
#define STAX_COL_MARK_SAMPLES 25   /* rows of each column written before the mark */
#define STAX_COL_MARK_SPANS 26
#define STAX_COL_MARK_WAKEUPS 27
#define STAX_COL_MARK_THREADS 28
#define STAX_COL_OTHER_OFFSET 29   /* from the last scan: OTHER records for the Python decoder */
#define STAX_COL_OTHER_SIZE 30
#define STAX_COL_OTHER_ENTRY 31
#define STAX_COL_NEWEST_PID 32     /* stax_stream_newest_switches: voluntary switch-outs */
#define STAX_COL_NEWEST_TID 33
#define STAX_COL_NEWEST_TIME 34
#define STAX_COL_SPAN_WAKEUP 35   /* the wakeup that ended it: its index among the kept ones; -1 none */
#define STAX_COLUMNS 36

#define STAX_COUNT_SAMPLES 0
#define STAX_COUNT_SWITCH_RECORDS 1
#define STAX_COUNT_SWITCH_STACKS 2
#define STAX_COUNT_WAKINGS 3
#define STAX_COUNT_SPANS 4
#define STAX_COUNT_PREEMPTED_SPANS 5
#define STAX_COUNT_SPANS_WITH_STACK 6
#define STAX_COUNT_CLOSED_AT_END 7
#define STAX_COUNT_WAKEUPS_KEPT 8
#define STAX_COUNT_WAKEUPS_DROPPED 9
#define STAX_COUNTS 10
/* stax_stream_sizes: rows waiting in the output columns, by group */
#define STAX_SIZE_SAMPLES 0
#define STAX_SIZE_SPANS 1
#define STAX_SIZE_WAKEUPS 2
#define STAX_SIZE_THREADS 3
#define STAX_SIZE_MARKS 4
#define STAX_SIZES 5

typedef struct stax_stream stax_stream;

stax_stream *stax_stream_new(int identifier, int64_t waking_pid_offset, uint64_t max_stack);
void stax_stream_free(stax_stream *s);
/* read records of this layout (a perf.data file's) instead of stax record's */
void stax_stream_layout(stax_stream *s, const stax_layout *layout);
void stax_stream_off_cpu(stax_stream *s, int keep_kernel_ips, int wakeups, int target_only);
void stax_stream_seed(stax_stream *s, uint32_t pid, uint32_t tid);
/* returns the number of OTHER records listed for the Python decoder, or -1 out of memory */
int stax_stream_scan(stax_stream *s, const uint8_t *chunk, size_t len, const uint64_t *ids,
                     const int32_t *kinds, size_t nids, int64_t waking_pid_offset);
void stax_stream_set_other(stax_stream *s, size_t entry, uint32_t tag, uint64_t time, uint32_t pid,
                           uint32_t tid, int64_t side);
int stax_stream_add_other(stax_stream *s, uint32_t tag, uint64_t time, uint32_t pid, uint32_t tid,
                          int64_t side);
int stax_stream_set_hot(stax_stream *s, size_t entry, uint32_t tag, uint64_t time, uint32_t pid,
                        uint32_t tid, uint32_t cpu, int64_t extra, const uint64_t *kernel, size_t nk,
                        const uint64_t *user, size_t nu, int truncated, const uint8_t *regs, size_t nregs,
                        const uint8_t *stack, size_t nstack);
size_t stax_stream_newest_switches(stax_stream *s);
int stax_stream_round(stax_stream *s, int final);
int stax_stream_finish(stax_stream *s, uint64_t end_time);
size_t stax_stream_pending(stax_stream *s);
const int64_t *stax_stream_column(stax_stream *s, int column, size_t *n);
void stax_stream_clear(stax_stream *s);
uint64_t stax_stream_count(stax_stream *s, int counter);
void stax_stream_counts(stax_stream *s, uint64_t *out);
void stax_stream_sizes(stax_stream *s, uint64_t *out);
size_t stax_stream_stacks(stax_stream *s);
const uint64_t *stax_stream_stack(stax_stream *s, size_t raw, uint32_t *pid, uint32_t *nk, uint32_t *nu,
                                  uint32_t *truncated);
/* Hybrid unwinding (--call-graph fp): samples and switch-out stacks carry a user register/stack
 * dump of `regs_bytes` of registers (decode/user_dump.py); each distinct (stack, dump) is its own
 * raw stack, and its dump is read back with stax_stream_stack_dump (dumped 0: none). */
void stax_stream_dumps(stax_stream *s, size_t regs_bytes);
const uint8_t *stax_stream_stack_dump(stax_stream *s, size_t raw, uint32_t *dumped, uint32_t *nregs,
                                      uint32_t *nstack);
#define STAX_DUMP_BYTES 1 /* stax_stream_stack_dump's `dumped`: the registers and stack bytes follow */
#define STAX_DUMP_KEPT 2  /* the copies at a kept place: no bytes; nstack is the copies' size */
/* An event that changes `pid`'s mappings (exec, fork, a new mapping) was scanned: the kept
 * places are forgotten, and the pid's count of such events goes up. */
void stax_stream_maps_changed(stax_stream *s, uint32_t pid);
/* Python keeps the kernel's walk at (pid, leaf, caller) (caller 0 for a one-frame walk), decided
 * with the mappings after `changes` such events of the pid: from now on the scan gives the
 * dumps there one raw stack per stack and copy size (STAX_DUMP_KEPT).  1 kept; 0 refused (the
 * scan has seen other mapping changes of the pid since); -1 out of memory. */
int stax_stream_keep_place(stax_stream *s, uint32_t pid, uint64_t leaf, uint64_t caller, uint64_t changes);
/* a raw id that no scanned stack will get (Python fills it: a repaired stack); 0 out of memory */
size_t stax_stream_reserve(stax_stream *s);
