/* The compiled capture stream: scan, time order, off-CPU spans and wakeups, raw stacks.
 * fast_stream.h says what each call does; compiled_stream.py drives it.  The logic is the
 * Python path's, record for record: time_order.py (round rule, stable by arrival),
 * off_cpu/stream.py, switch_tracker.py and wakeup_attribution.py (tests/linux hold the two
 * to the same output on the same bytes).
 */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fast_decode.h"
#include "fast_stream.h"

#define STACK_MATCH_WINDOW_NS 5000000ULL /* switch_tracker.STACK_MATCH_WINDOW_NS */
#define MISC_SWITCH_OUT (1u << 13)
#define MISC_SWITCH_OUT_PREEMPT (1u << 14)
#define SCAN_BATCH 1024

typedef struct {
    int64_t *v;
    size_t n, cap;
} vec;

static int vpush(vec *x, int64_t value)
{
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 1024;
        int64_t *v = realloc(x->v, cap * sizeof(int64_t));
        if (!v)
            return -1;
        x->v = v;
        x->cap = cap;
    }
    x->v[x->n++] = value;
    return 0;
}

typedef struct {
    uint64_t time, seq;
    int64_t extra; /* period (SAMPLE), misc (SWITCH), wakee tid (WAKING) */
    int64_t side;  /* OTHER: the Python decoder's event */
    uint32_t tag, cpu, pid, tid;
    uint32_t stack, pad;
} entry;

/* u64 key -> 4 u64, open addressing with linear probing and backward-shift deletion */
typedef struct {
    uint64_t key;
    uint64_t v[4];
    uint64_t used;
} slot;

typedef struct {
    slot *s;
    size_t cap, n;
} map;

static inline size_t home(const map *m, uint64_t key)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 17) & (m->cap - 1);
}

static slot *mget(const map *m, uint64_t key)
{
    if (!m->cap)
        return NULL;
    for (size_t i = home(m, key);; i = (i + 1) & (m->cap - 1)) {
        slot *e = &m->s[i];
        if (!e->used)
            return NULL;
        if (e->key == key)
            return e;
    }
}

static int mgrow(map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 256;
    slot *old = m->s;
    size_t oldcap = m->cap;
    m->s = calloc(cap, sizeof(slot));
    if (!m->s) {
        m->s = old;
        return -1;
    }
    m->cap = cap;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].used)
            continue;
        size_t j = home(m, old[i].key);
        while (m->s[j].used)
            j = (j + 1) & (cap - 1);
        m->s[j] = old[i];
    }
    free(old);
    return 0;
}

/* the slot of `key`, added (zeroed) if missing; *fresh says which */
static slot *mput(map *m, uint64_t key, int *fresh)
{
    if ((m->n + 1) * 4 > m->cap * 3 && mgrow(m))
        return NULL;
    size_t i = home(m, key);
    while (m->s[i].used) {
        if (m->s[i].key == key) {
            *fresh = 0;
            return &m->s[i];
        }
        i = (i + 1) & (m->cap - 1);
    }
    slot *e = &m->s[i];
    memset(e, 0, sizeof(*e));
    e->used = 1;
    e->key = key;
    m->n++;
    *fresh = 1;
    return e;
}

static void mdel_slot(map *m, slot *e)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)(e - m->s);
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->s[j].used)
            break;
        size_t k = home(m, m->s[j].key);
        /* move j back to i unless its home lies cyclically in (i, j] */
        int stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            m->s[i] = m->s[j];
            i = j;
        }
    }
    m->s[i].used = 0;
    m->n--;
}

static int mpop(map *m, uint64_t key, uint64_t out[4])
{
    slot *e = mget(m, key);
    if (!e)
        return 0;
    if (out)
        memcpy(out, e->v, sizeof(e->v));
    mdel_slot(m, e);
    return 1;
}

static void mclear(map *m)
{
    if (m->s)
        memset(m->s, 0, m->cap * sizeof(slot));
    m->n = 0;
}

typedef struct {
    uint64_t at, hash;
    uint32_t pid, nk, nu, truncated;
    uint32_t dumped, nregs, nstack, pad; /* a user register/stack dump (bytes) after the ips */
} stack_meta;

/* a record's user register/stack dump (decode/user_dump.py): `dumped` when the records carry one */
typedef struct {
    const uint8_t *regs, *stack;
    size_t nregs, nstack;
    uint32_t dumped;
} dump_view;

struct stax_stream {
    int identifier;
    stax_layout layout; /* where the scan finds the fields: stax record's, or a perf.data file's */
    int64_t waking_pid_offset;
    uint64_t max_stack;
    int keep_kernel, wakeups, target_only;
    size_t dump_regs; /* bytes of user registers in a dump; 0: the records carry none */
    /* pending entries, sorted by (time, seq) up to `sorted` */
    entry *pending;
    size_t npending, cap_pending, round_start;
    uint64_t seq;
    int have_prev;
    uint64_t prev_max;
    /* raw stacks */
    stack_meta *stacks;
    size_t nstacks, cap_stacks;
    vec arena;
    uint32_t *index;
    size_t cap_index;
    /* off-CPU state (switch_tracker.py, wakeup_attribution.py, stream.py) */
    map open;    /* tid -> start, pid | cpu << 32, preempted | stack << 32, order */
    map pstack;  /* tid -> time, cpu, stack */
    map waker;   /* tid -> time, waker tid, wakeup index */
    map threads; /* tid -> pid */
    map exited;  /* tid */
    map seen;    /* pid << 32 | tid: thread already reported */
    /* hybrid: places whose kernel walk Python keeps (stax_stream_keep_place), and per pid the
     * events that changed its mappings, counted as they are scanned */
    map kept;    /* hash of (pid, leaf, caller) -> pid, leaf, caller */
    map changes; /* pid -> mapping changes scanned */
    uint64_t open_order;
    uint64_t counts[STAX_COUNTS];
    vec cols[STAX_COLUMNS];
    entry *tmp_sort;
    uint64_t scan_out[SCAN_BATCH * STAX_ENTRY_WORDS];
};

stax_stream *stax_stream_new(int identifier, int64_t waking_pid_offset, uint64_t max_stack)
{
    stax_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->identifier = identifier;
    stax_live_layout(identifier, &s->layout);
    s->waking_pid_offset = waking_pid_offset;
    s->max_stack = max_stack;
    s->keep_kernel = 1;
    s->nstacks = 1; /* raw 0: the empty stack */
    s->cap_stacks = 1024;
    s->stacks = calloc(s->cap_stacks, sizeof(stack_meta));
    s->cap_index = 1024;
    s->index = calloc(s->cap_index, sizeof(uint32_t));
    if (!s->stacks || !s->index) {
        stax_stream_free(s);
        return NULL;
    }
    return s;
}

void stax_stream_layout(stax_stream *s, const stax_layout *layout)
{
    s->layout = *layout;
}

void stax_stream_free(stax_stream *s)
{
    if (!s)
        return;
    free(s->pending);
    free(s->stacks);
    free(s->arena.v);
    free(s->index);
    free(s->open.s);
    free(s->pstack.s);
    free(s->waker.s);
    free(s->threads.s);
    free(s->exited.s);
    free(s->seen.s);
    free(s->kept.s);
    free(s->changes.s);
    for (int i = 0; i < STAX_COLUMNS; i++)
        free(s->cols[i].v);
    free(s->tmp_sort);
    free(s);
}

void stax_stream_off_cpu(stax_stream *s, int keep_kernel_ips, int wakeups, int target_only)
{
    s->keep_kernel = keep_kernel_ips;
    s->wakeups = wakeups;
    s->target_only = target_only;
}

void stax_stream_seed(stax_stream *s, uint32_t pid, uint32_t tid)
{
    int fresh;
    slot *e = mput(&s->threads, tid, &fresh);
    if (e)
        e->v[0] = pid;
}

/* -- raw stacks ---------------------------------------------------------------------------- */

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint64_t stack_hash(uint32_t pid, const uint8_t *k, size_t nk, const uint8_t *u, size_t nu,
                           uint32_t truncated, const dump_view *d)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ ((uint64_t)pid << 1) ^ truncated;
    h = (h ^ ((uint64_t)nk << 32 | nu)) * 0x100000001b3ULL;
    for (size_t i = 0; i < nk; i++) {
        h = (h ^ rd64(k + 8 * i)) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    for (size_t i = 0; i < nu; i++) {
        h = (h ^ rd64(u + 8 * i)) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    if (d->dumped) {
        h = (h ^ ((uint64_t)d->nregs << 32 | d->nstack) ^ 0x5bd1e995ULL ^ d->dumped) * 0x100000001b3ULL;
        if (d->dumped == STAX_DUMP_KEPT)
            return h | 1;
        for (size_t i = 0; i < d->nregs; i++)
            h = (h ^ d->regs[i]) * 0x100000001b3ULL;
        for (size_t i = 0; i + 8 <= d->nstack; i += 8) {
            h = (h ^ rd64(d->stack + i)) * 0x9E3779B97F4A7C15ULL;
            h ^= h >> 29;
        }
        for (size_t i = d->nstack & ~(size_t)7; i < d->nstack; i++)
            h = (h ^ d->stack[i]) * 0x100000001b3ULL;
    }
    return h | 1;
}

static int index_grow(stax_stream *s)
{
    size_t cap = s->cap_index * 2;
    uint32_t *index = calloc(cap, sizeof(uint32_t));
    if (!index)
        return -1;
    for (size_t raw = 1; raw < s->nstacks; raw++) {
        size_t i = (size_t)(s->stacks[raw].hash >> 7) & (cap - 1);
        while (index[i])
            i = (i + 1) & (cap - 1);
        index[i] = (uint32_t)raw;
    }
    free(s->index);
    s->index = index;
    s->cap_index = cap;
    return 0;
}

/* the dump bytes of raw stack m are d's (none to compare for STAX_DUMP_KEPT) */
static int same_bytes(const stax_stream *s, const stack_meta *m, const dump_view *d)
{
    if (d->dumped != STAX_DUMP_BYTES)
        return 1;
    const uint8_t *at = (const uint8_t *)(s->arena.v + m->at + m->nk + m->nu);
    return (!d->nregs || !memcmp(at, d->regs, d->nregs))
           && (!d->nstack || !memcmp(at + d->nregs, d->stack, d->nstack));
}

/* The raw id of a stack (ips as bytes, leaf first); 0 for the empty one; -1 out of memory. */
static int64_t intern(stax_stream *s, uint32_t pid, const uint8_t *k, size_t nk, const uint8_t *u,
                      size_t nu, uint32_t truncated, const dump_view *d)
{
    if (!nk && !nu && !truncated && !d->dumped)
        return 0;
    uint64_t h = stack_hash(pid, k, nk, u, nu, truncated, d);
    size_t mask = s->cap_index - 1;
    size_t i = (size_t)(h >> 7) & mask;
    for (; s->index[i]; i = (i + 1) & mask) {
        stack_meta *m = &s->stacks[s->index[i]];
        if (m->hash == h && m->pid == pid && m->nk == nk && m->nu == nu && m->truncated == truncated
            && (!nk || !memcmp(s->arena.v + m->at, k, 8 * nk))
            && (!nu || !memcmp(s->arena.v + m->at + nk, u, 8 * nu)) && m->dumped == d->dumped
            && m->nregs == d->nregs && m->nstack == d->nstack && same_bytes(s, m, d))
            return s->index[i];
    }
    if (s->nstacks == s->cap_stacks) {
        stack_meta *st = realloc(s->stacks, 2 * s->cap_stacks * sizeof(stack_meta));
        if (!st)
            return -1;
        s->stacks = st;
        s->cap_stacks *= 2;
    }
    size_t at = s->arena.n;
    for (size_t j = 0; j < nk; j++)
        if (vpush(&s->arena, (int64_t)rd64(k + 8 * j)))
            return -1;
    for (size_t j = 0; j < nu; j++)
        if (vpush(&s->arena, (int64_t)rd64(u + 8 * j)))
            return -1;
    if (d->dumped == STAX_DUMP_BYTES && (d->nregs || d->nstack)) { /* the bytes, padded to whole words */
        size_t bytes = d->nregs + d->nstack, words = (bytes + 7) / 8, first = s->arena.n;
        for (size_t j = 0; j < words; j++)
            if (vpush(&s->arena, 0))
                return -1;
        uint8_t *to = (uint8_t *)(s->arena.v + first);
        memcpy(to, d->regs, d->nregs);
        memcpy(to + d->nregs, d->stack, d->nstack);
    }
    size_t raw = s->nstacks++;
    stack_meta *m = &s->stacks[raw];
    m->dumped = d->dumped;
    m->nregs = (uint32_t)d->nregs;
    m->nstack = (uint32_t)d->nstack;
    m->at = at;
    m->hash = h;
    m->pid = pid;
    m->nk = (uint32_t)nk;
    m->nu = (uint32_t)nu;
    m->truncated = truncated;
    s->index[i] = (uint32_t)raw;
    if (s->nstacks * 2 > s->cap_index && index_grow(s))
        return -1;
    return (int64_t)raw;
}

size_t stax_stream_stacks(stax_stream *s)
{
    return s->nstacks;
}

const uint64_t *stax_stream_stack(stax_stream *s, size_t raw, uint32_t *pid, uint32_t *nk, uint32_t *nu,
                                  uint32_t *truncated)
{
    stack_meta *m = &s->stacks[raw];
    *pid = m->pid;
    *nk = m->nk;
    *nu = m->nu;
    *truncated = m->truncated;
    return (const uint64_t *)s->arena.v + m->at;
}

const uint8_t *stax_stream_stack_dump(stax_stream *s, size_t raw, uint32_t *dumped, uint32_t *nregs,
                                      uint32_t *nstack)
{
    stack_meta *m = &s->stacks[raw];
    *dumped = m->dumped;
    *nregs = m->nregs;
    *nstack = m->nstack;
    return (const uint8_t *)(s->arena.v + m->at + m->nk + m->nu);
}

size_t stax_stream_reserve(stax_stream *s)
{
    if (s->nstacks == s->cap_stacks) {
        stack_meta *st = realloc(s->stacks, 2 * s->cap_stacks * sizeof(stack_meta));
        if (!st)
            return 0;
        s->stacks = st;
        s->cap_stacks *= 2;
    }
    memset(&s->stacks[s->nstacks], 0, sizeof(stack_meta)); /* in no index: never matched */
    return s->nstacks++;
}

void stax_stream_dumps(stax_stream *s, size_t regs_bytes)
{
    s->dump_regs = regs_bytes;
}

/* The dump at chunk[at] as UserDumpLayout.read reads it (bounded by the chunk, as its slices are). */
static void read_dump(const stax_stream *s, const uint8_t *chunk, size_t len, size_t at, dump_view *d)
{
    memset(d, 0, sizeof(*d));
    d->dumped = s->dump_regs != 0 ? STAX_DUMP_BYTES : 0;
    if (!d->dumped || at > len || len - at < 8 || !rd64(chunk + at))
        return; /* no abi: no user context (or cut short) */
    at += 8;
    if (len - at < s->dump_regs)
        return;
    const uint8_t *regs = chunk + at;
    at += s->dump_regs;
    if (at > len || len - at < 8)
        return;
    uint64_t size = rd64(chunk + at);
    const uint8_t *stack = chunk + at + 8;
    size_t nstack = 0;
    if (size) {
        if (size > len || at + 8 + size > len || len - (at + 8 + size) < 8)
            return;
        uint64_t filled = rd64(chunk + at + 8 + size);
        nstack = (size_t)(filled < size ? filled : size);
    }
    d->regs = regs;
    d->nregs = s->dump_regs;
    d->stack = stack;
    d->nstack = nstack;
}

/* -- hybrid: kept places ------------------------------------------------------------------- */

static uint64_t place_key(uint32_t pid, uint64_t leaf, uint64_t caller)
{
    uint64_t h = (0x9E3779B97F4A7C15ULL ^ pid) * 0x100000001b3ULL;
    h = (h ^ leaf) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
    h = (h ^ caller) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 31);
}

/* A dump whose (pid, leaf, caller) Python keeps: its bytes are not needed, so every copy at that
 * place shares one raw stack (marked STAX_DUMP_KEPT, with the copy's size). */
static void kept_place(stax_stream *s, uint32_t pid, const uint8_t *u, size_t nu, dump_view *d)
{
    if (!s->kept.n || !nu || !d->nregs)
        return;
    uint64_t leaf = rd64(u), caller = nu > 1 ? rd64(u + 8) : 0;
    slot *x = mget(&s->kept, place_key(pid, leaf, caller));
    if (!x || x->v[0] != pid || x->v[1] != leaf || x->v[2] != caller)
        return;
    d->dumped = STAX_DUMP_KEPT;
    d->regs = d->stack = NULL;
    d->nregs = 0;
}

void stax_stream_maps_changed(stax_stream *s, uint32_t pid)
{
    int fresh;
    slot *x = mput(&s->changes, pid, &fresh);
    if (x)
        x->v[0] = fresh ? 1 : x->v[0] + 1;
    mclear(&s->kept); /* rare: forget every place rather than look for the pid's */
}

int stax_stream_keep_place(stax_stream *s, uint32_t pid, uint64_t leaf, uint64_t caller, uint64_t changes)
{
    slot *c = mget(&s->changes, pid);
    if ((c ? c->v[0] : 0) != changes)
        return 0; /* the mappings it was decided with are not the ones scanned now */
    int fresh;
    slot *x = mput(&s->kept, place_key(pid, leaf, caller), &fresh);
    if (!x)
        return -1;
    x->v[0] = pid;
    x->v[1] = leaf;
    x->v[2] = caller;
    return 1;
}

/* -- scanning ------------------------------------------------------------------------------ */

static entry *push_entry(stax_stream *s)
{
    if (s->npending == s->cap_pending) {
        size_t cap = s->cap_pending ? s->cap_pending * 2 : 4096;
        entry *p = realloc(s->pending, cap * sizeof(entry));
        if (!p)
            return NULL;
        s->pending = p;
        s->cap_pending = cap;
    }
    entry *e = &s->pending[s->npending++];
    memset(e, 0, sizeof(*e));
    e->seq = s->seq++;
    e->side = -1;
    return e;
}

int stax_stream_scan(stax_stream *s, const uint8_t *chunk, size_t len, const uint64_t *ids,
                     const int32_t *kinds, size_t nids, int64_t waking_pid_offset)
{
    size_t off = 0, stop = 0;
    s->cols[STAX_COL_OTHER_OFFSET].n = s->cols[STAX_COL_OTHER_SIZE].n = s->cols[STAX_COL_OTHER_ENTRY].n = 0;
    for (;;) {
        size_t n = stax_decode_layout(chunk, len, off, &s->layout, ids, kinds, nids, waking_pid_offset,
                                      s->scan_out, SCAN_BATCH, &stop);
        for (size_t i = 0; i < n; i++) {
            const uint64_t *w = s->scan_out + i * STAX_ENTRY_WORDS;
            entry *e = push_entry(s);
            if (!e)
                return -1;
            e->tag = (uint32_t)w[0];
            if (w[0] == STAX_TAG_OTHER) {
                if (vpush(&s->cols[STAX_COL_OTHER_OFFSET], (int64_t)w[1])
                    || vpush(&s->cols[STAX_COL_OTHER_SIZE], (int64_t)w[2])
                    || vpush(&s->cols[STAX_COL_OTHER_ENTRY], (int64_t)(s->npending - 1)))
                    return -1;
                e->tag = STAX_SKIP; /* until the Python decoder says what it is */
                continue;
            }
            e->time = w[1];
            e->pid = (uint32_t)w[2];
            e->tid = (uint32_t)w[3];
            e->cpu = (uint32_t)w[4];
            int64_t raw = 0;
            size_t nk = w[8], nu = w[10];
            dump_view d = {0};
            if (w[0] == STAX_TAG_SWITCH) {
                e->extra = (int64_t)w[5];
                s->counts[STAX_COUNT_SWITCH_RECORDS]++;
            } else if (w[0] == STAX_TAG_SAMPLE) {
                e->extra = (int64_t)w[5];
                read_dump(s, chunk, len, w[6], &d);
                kept_place(s, e->pid, chunk + w[9], nu, &d);
                raw = intern(s, e->pid, chunk + w[7], nk, chunk + w[9], nu, nk + nu >= s->max_stack, &d);
                s->counts[STAX_COUNT_SAMPLES]++;
            } else {
                if (!s->keep_kernel)
                    nk = 0;
                if (w[0] == STAX_TAG_SWITCH_STACK) {
                    read_dump(s, chunk, len, w[6], &d);
                    kept_place(s, e->pid, chunk + w[9], nu, &d);
                }
                raw = intern(s, e->pid, chunk + w[7], nk, chunk + w[9], nu, 0, &d);
                if (w[0] == STAX_TAG_WAKING) {
                    e->extra = (int64_t)w[6];
                    s->counts[STAX_COUNT_WAKINGS]++;
                } else {
                    s->counts[STAX_COUNT_SWITCH_STACKS]++;
                }
            }
            if (raw < 0)
                return -1;
            e->stack = (uint32_t)raw;
        }
        if (n < SCAN_BATCH)
            break;
        off = stop;
    }
    return (int)s->cols[STAX_COL_OTHER_OFFSET].n;
}

void stax_stream_set_other(stax_stream *s, size_t at, uint32_t tag, uint64_t time, uint32_t pid, uint32_t tid,
                           int64_t side)
{
    entry *e = &s->pending[at];
    e->tag = tag;
    e->time = time;
    e->pid = pid;
    e->tid = tid;
    e->side = side;
}

int stax_stream_add_other(stax_stream *s, uint32_t tag, uint64_t time, uint32_t pid, uint32_t tid, int64_t side)
{
    if (s->round_start != s->npending)
        return -1; /* only between rounds */
    entry *e = push_entry(s);
    if (!e)
        return -1;
    stax_stream_set_other(s, s->npending - 1, tag, time, pid, tid, side);
    s->round_start = s->npending; /* held back, not part of the next round's newest time */
    return 0;
}

int stax_stream_set_hot(stax_stream *s, size_t at, uint32_t tag, uint64_t time, uint32_t pid, uint32_t tid,
                        uint32_t cpu, int64_t extra, const uint64_t *kernel, size_t nk, const uint64_t *user,
                        size_t nu, int truncated, const uint8_t *regs, size_t nregs, const uint8_t *stack,
                        size_t nstack)
{
    if (tag != STAX_TAG_SAMPLE && !s->keep_kernel)
        nk = 0;
    dump_view d = {regs, stack, nregs, nstack, (s->dump_regs && tag != STAX_TAG_WAKING) ? STAX_DUMP_BYTES : 0};
    if (!d.dumped)
        d.nregs = d.nstack = 0;
    int64_t raw = intern(s, pid, (const uint8_t *)kernel, nk, (const uint8_t *)user, nu, (uint32_t)truncated, &d);
    if (raw < 0)
        return -1;
    entry *e = &s->pending[at];
    e->tag = tag;
    e->time = time;
    e->pid = pid;
    e->tid = tid;
    e->cpu = cpu;
    e->extra = extra;
    e->stack = (uint32_t)raw;
    return 0;
}

/* For the wchan fallback (switch_tracker.note_round): each tid's newest switch this round, when
 * it is a voluntary switch-out. */
size_t stax_stream_newest_switches(stax_stream *s)
{
    map newest = {0};
    vec *pid = &s->cols[STAX_COL_NEWEST_PID], *tid = &s->cols[STAX_COL_NEWEST_TID];
    vec *when = &s->cols[STAX_COL_NEWEST_TIME];
    vec order = {0};
    pid->n = tid->n = when->n = 0;
    for (size_t i = s->round_start; i < s->npending; i++) {
        entry *e = &s->pending[i];
        if (e->tag != STAX_TAG_SWITCH || !e->tid)
            continue;
        int fresh;
        slot *n = mput(&newest, e->tid, &fresh);
        if (!n)
            break;
        if (fresh)
            vpush(&order, e->tid);
        if (fresh || e->time >= n->v[0]) {
            n->v[0] = e->time;
            n->v[1] = i;
        }
    }
    for (size_t j = 0; j < order.n; j++) {
        entry *e = &s->pending[mget(&newest, (uint64_t)order.v[j])->v[1]];
        if ((e->extra & MISC_SWITCH_OUT) && !(e->extra & MISC_SWITCH_OUT_PREEMPT)) {
            vpush(pid, e->pid);
            vpush(tid, e->tid);
            vpush(when, (int64_t)e->time);
        }
    }
    free(newest.s);
    free(order.v);
    return pid->n;
}

/* -- releasing, in time order -------------------------------------------------------------- */

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static inline int entry_before(const entry *x, const entry *y)
{
    return x->time < y->time || (x->time == y->time && x->seq < y->seq);
}

/* The pending entries in (time, seq) order, as cmp_entry orders them.  They come as a few
 * runs already in order -- what the last round kept, then each ring's chunk (a ring is
 * written in time order, nearly always) -- so runs are found and merged pairwise: a few
 * linear passes where qsort took n log n calls of cmp_entry.  -1 out of memory. */
static int sort_pending(stax_stream *s)
{
    size_t n = s->npending;
    size_t runs = 1;
    for (size_t i = 1; i < n; i++)
        runs += entry_before(&s->pending[i], &s->pending[i - 1]);
    if (n < 2 || runs == 1)
        return 0;
    if (runs > 64) { /* not a few runs: leave it to qsort */
        qsort(s->pending, n, sizeof(entry), cmp_entry);
        return 0;
    }
    entry *tmp = malloc(n * sizeof(entry));
    size_t *starts = malloc((runs + 1) * sizeof(size_t));
    if (!tmp || !starts) {
        free(tmp);
        free(starts);
        return -1;
    }
    size_t k = 0;
    starts[k++] = 0;
    for (size_t i = 1; i < n; i++)
        if (entry_before(&s->pending[i], &s->pending[i - 1]))
            starts[k++] = i;
    starts[k] = n;
    entry *from = s->pending, *to = tmp;
    while (runs > 1) {
        size_t merged = 0;
        for (size_t r = 0; r < runs; r += 2) {
            size_t a = starts[r], mid = starts[r + 1 < runs ? r + 1 : runs], b = starts[r + 2 < runs ? r + 2 : runs];
            size_t i = a, j = mid, o = a;
            while (i < mid && j < b) /* ties in time keep arrival order: seq decides */
                to[o++] = entry_before(&from[j], &from[i]) ? from[j++] : from[i++];
            while (i < mid)
                to[o++] = from[i++];
            while (j < b)
                to[o++] = from[j++];
            starts[merged++] = a;
        }
        starts[merged] = n;
        runs = merged;
        entry *t = from;
        from = to;
        to = t;
    }
    if (from != s->pending)
        memcpy(s->pending, from, n * sizeof(entry));
    free(tmp);
    free(starts);
    return 0;
}

static int seen_thread(stax_stream *s, uint32_t pid, uint32_t tid, uint64_t when)
{
    int fresh;
    slot *e = mput(&s->seen, (uint64_t)pid << 32 | tid, &fresh);
    if (!e)
        return -1;
    if (fresh) {
        if (vpush(&s->cols[STAX_COL_THREAD_PID], pid) || vpush(&s->cols[STAX_COL_THREAD_TID], tid)
            || vpush(&s->cols[STAX_COL_THREAD_TIME], (int64_t)when))
            return -1;
    }
    return 0;
}

static int emit_span(stax_stream *s, uint32_t tid, const uint64_t v[4], uint64_t end)
{
    uint64_t start = v[0];
    int64_t waker = -1, wakeup = -1;
    slot *w = mget(&s->waker, tid);
    if (w && start <= w->v[0] && w->v[0] <= end) {
        waker = (int64_t)w->v[1];
        wakeup = (int64_t)w->v[2]; /* link_wakeups' choice: the wakee's last wakeup inside the span */
    }
    uint32_t pid = (uint32_t)v[1], cpu = (uint32_t)(v[1] >> 32);
    int preempted = (int)(v[2] & 1);
    s->counts[STAX_COUNT_SPANS]++;
    if (preempted)
        s->counts[STAX_COUNT_PREEMPTED_SPANS]++;
    vec *c = s->cols;
    if (vpush(&c[STAX_COL_SPAN_START], (int64_t)start) || vpush(&c[STAX_COL_SPAN_END], (int64_t)end)
        || vpush(&c[STAX_COL_SPAN_PID], pid) || vpush(&c[STAX_COL_SPAN_TID], tid)
        || vpush(&c[STAX_COL_SPAN_CPU], cpu) || vpush(&c[STAX_COL_SPAN_STACK], (int64_t)(v[2] >> 32))
        || vpush(&c[STAX_COL_SPAN_WAKER], waker) || vpush(&c[STAX_COL_SPAN_PREEMPTED], preempted)
        || vpush(&c[STAX_COL_SPAN_WAKEUP], wakeup))
        return -1;
    return seen_thread(s, pid, tid, start);
}

static int release(stax_stream *s, const entry *e)
{
    vec *c = s->cols;
    int fresh;
    slot *x;
    switch (e->tag) {
    case STAX_TAG_SAMPLE: /* cpu as int32: -1 when a perf.data file has no PERF_SAMPLE_CPU */
        if (vpush(&c[STAX_COL_SAMPLE_TIME], (int64_t)e->time) || vpush(&c[STAX_COL_SAMPLE_PID], e->pid)
            || vpush(&c[STAX_COL_SAMPLE_TID], e->tid) || vpush(&c[STAX_COL_SAMPLE_CPU], (int32_t)e->cpu)
            || vpush(&c[STAX_COL_SAMPLE_WEIGHT], e->extra) || vpush(&c[STAX_COL_SAMPLE_STACK], e->stack))
            return -1;
        return seen_thread(s, e->pid, e->tid, e->time);
    case STAX_TAG_SWITCH_STACK:
        if (!(x = mput(&s->pstack, e->tid, &fresh)))
            return -1;
        x->v[0] = e->time;
        x->v[1] = e->cpu;
        x->v[2] = e->stack;
        return 0;
    case STAX_TAG_SWITCH: {
        int out = (e->extra & MISC_SWITCH_OUT) != 0;
        if (out) {
            if (!(x = mput(&s->threads, e->tid, &fresh)))
                return -1;
            x->v[0] = e->pid;
        }
        if (!e->tid)
            return 0; /* the idle task */
        if (out) {
            if (mget(&s->exited, e->tid))
                return 0;
            uint64_t st[4];
            uint64_t stack = 0;
            if (mpop(&s->pstack, e->tid, st) && st[1] == e->cpu && e->time >= st[0]
                && e->time - st[0] <= STACK_MATCH_WINDOW_NS) {
                stack = st[2];
                s->counts[STAX_COUNT_SPANS_WITH_STACK]++;
            }
            if (!(x = mput(&s->open, e->tid, &fresh)))
                return -1;
            x->v[0] = e->time;
            x->v[1] = e->pid | (uint64_t)e->cpu << 32;
            x->v[2] = ((e->extra & MISC_SWITCH_OUT_PREEMPT) ? 1 : 0) | stack << 32;
            if (fresh)
                x->v[3] = s->open_order++; /* a dict keeps a replaced key's place */
            return 0;
        }
        uint64_t span[4];
        if (!mpop(&s->open, e->tid, span))
            return 0;
        return emit_span(s, e->tid, span, e->time);
    }
    case STAX_TAG_WAKING: {
        if (!s->wakeups)
            return 0;
        int64_t wakee = (int32_t)e->extra;
        if (wakee <= 0 || (s->target_only && !mget(&s->threads, (uint64_t)wakee) && !mget(&s->threads, e->tid))) {
            s->counts[STAX_COUNT_WAKEUPS_DROPPED]++;
            return 0;
        }
        uint64_t index = s->counts[STAX_COUNT_WAKEUPS_KEPT]++;
        slot *t = mget(&s->threads, (uint64_t)wakee);
        int64_t wakee_pid = t ? (int64_t)t->v[0] : wakee;
        if (vpush(&c[STAX_COL_WAKE_TIME], (int64_t)e->time) || vpush(&c[STAX_COL_WAKE_CPU], e->cpu)
            || vpush(&c[STAX_COL_WAKE_WAKER_PID], e->pid) || vpush(&c[STAX_COL_WAKE_WAKER_TID], e->tid)
            || vpush(&c[STAX_COL_WAKE_WAKEE_PID], wakee_pid) || vpush(&c[STAX_COL_WAKE_WAKEE_TID], wakee)
            || vpush(&c[STAX_COL_WAKE_STACK], e->stack))
            return -1;
        if (!(x = mput(&s->waker, (uint64_t)wakee, &fresh)))
            return -1;
        x->v[0] = e->time;
        x->v[1] = e->tid;
        x->v[2] = index;
        return 0;
    }
    case STAX_SKIP:
        return 0;
    default:
        break;
    }
    /* an OTHER record, decoded by Python: its effect on the tables, then its place in the output */
    if (e->tag == STAX_OTHER_START || e->tag == STAX_OTHER_NAME) {
        if (!(x = mput(&s->threads, e->tid, &fresh)))
            return -1;
        x->v[0] = e->pid;
        if (e->tag == STAX_OTHER_START) {
            x = mget(&s->exited, e->tid);
            if (x)
                mdel_slot(&s->exited, x);
        }
    } else if (e->tag == STAX_OTHER_EXIT) {
        if (!mput(&s->exited, e->tid, &fresh))
            return -1;
        mpop(&s->open, e->tid, NULL);
        mpop(&s->pstack, e->tid, NULL);
    }
    if (vpush(&c[STAX_COL_MARK_SIDE], e->side) || vpush(&c[STAX_COL_MARK_SAMPLES], (int64_t)c[STAX_COL_SAMPLE_TIME].n)
        || vpush(&c[STAX_COL_MARK_SPANS], (int64_t)c[STAX_COL_SPAN_START].n)
        || vpush(&c[STAX_COL_MARK_WAKEUPS], (int64_t)c[STAX_COL_WAKE_TIME].n)
        || vpush(&c[STAX_COL_MARK_THREADS], (int64_t)c[STAX_COL_THREAD_PID].n))
        return -1;
    return 0;
}

int stax_stream_round(stax_stream *s, int final)
{
    /* the round's newest time: of the entries that became events (not the skipped ones) */
    int have_max = s->have_prev;
    uint64_t round_max = s->prev_max;
    for (size_t i = s->round_start; i < s->npending; i++) {
        const entry *e = &s->pending[i];
        if (e->tag != STAX_SKIP && (!have_max || e->time > round_max)) {
            round_max = e->time;
            have_max = 1;
        }
    }
    int have_threshold = s->have_prev;
    uint64_t threshold = s->prev_max;
    s->have_prev = have_max;
    s->prev_max = round_max;
    s->round_start = s->npending;
    if (!final && !have_threshold)
        return 0;
    if (sort_pending(s))
        return -1;
    size_t cut = s->npending;
    if (!final) {
        size_t lo = 0, hi = s->npending; /* first entry newer than the threshold */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (s->pending[mid].time <= threshold)
                lo = mid + 1;
            else
                hi = mid;
        }
        cut = lo;
    }
    for (size_t i = 0; i < cut; i++)
        if (release(s, &s->pending[i]))
            return -1;
    memmove(s->pending, s->pending + cut, (s->npending - cut) * sizeof(entry));
    s->npending -= cut;
    s->round_start = s->npending;
    return 0;
}

static int cmp_order(const void *a, const void *b)
{
    const slot *x = *(const slot *const *)a, *y = *(const slot *const *)b;
    return x->v[3] < y->v[3] ? -1 : x->v[3] > y->v[3];
}

int stax_stream_finish(stax_stream *s, uint64_t end_time)
{
    slot **open = malloc((s->open.n + 1) * sizeof(slot *));
    if (!open)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < s->open.cap; i++)
        if (s->open.s[i].used)
            open[n++] = &s->open.s[i];
    qsort(open, n, sizeof(slot *), cmp_order);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (end_time > open[i]->v[0]) {
            rc = emit_span(s, (uint32_t)open[i]->key, open[i]->v, end_time);
            s->counts[STAX_COUNT_CLOSED_AT_END]++;
        }
    }
    free(open);
    mclear(&s->open);
    mclear(&s->pstack);
    return rc;
}

size_t stax_stream_pending(stax_stream *s)
{
    return s->npending;
}

const int64_t *stax_stream_column(stax_stream *s, int column, size_t *n)
{
    *n = s->cols[column].n;
    return s->cols[column].v;
}

void stax_stream_clear(stax_stream *s)
{
    for (int i = 0; i < STAX_COLUMNS; i++)
        if (i < STAX_COL_OTHER_OFFSET || i > STAX_COL_NEWEST_TIME)
            s->cols[i].n = 0;
}

uint64_t stax_stream_count(stax_stream *s, int counter)
{
    return s->counts[counter];
}

void stax_stream_counts(stax_stream *s, uint64_t *out)
{
    memcpy(out, s->counts, sizeof(s->counts));
}

void stax_stream_sizes(stax_stream *s, uint64_t *out)
{
    out[STAX_SIZE_SAMPLES] = s->cols[STAX_COL_SAMPLE_TIME].n;
    out[STAX_SIZE_SPANS] = s->cols[STAX_COL_SPAN_START].n;
    out[STAX_SIZE_WAKEUPS] = s->cols[STAX_COL_WAKE_TIME].n;
    out[STAX_SIZE_THREADS] = s->cols[STAX_COL_THREAD_PID].n;
    out[STAX_SIZE_MARKS] = s->cols[STAX_COL_MARK_SIDE].n;
}
