/* Compiled scan of PERF_RECORD_* chunks: the hot records (samples, context-switch
 * records) become fixed-size u64 entries that fast_decoder.py turns into objects;
 * anything else is handed back as STAX_TAG_OTHER for record_decoder.py.
 *
 * Layouts (perf_event.h, enum perf_event_type): every record starts with
 * {u32 type; u16 misc; u16 size}.  stax record's own (perf_event_attr.SAMPLE_TYPE with
 * sample_id_all, as record_decoder.py documents them): a SAMPLE is [u64 identifier] u64 ip;
 * u32 pid, tid; u64 time; u32 cpu, res; u64 period; u64 nr; u64 ips[nr]; [u32 size; raw...] or
 * [the user register/stack dump, decode/user_dump.py: its offset is the entry's word 6]; a
 * non-sample record ends in sample_id {u32 pid, tid; u64 time; u32 cpu, res; [u64 id]}.
 * A perf.data file's events have perf's layouts (per-task files: no cpu, no id; ADDR, ID,
 * fixed-size READ values in between): stax_decode_layout() takes the offsets from a
 * stax_layout that sample_layout.py computes from the event's attr; stax_decode() is it
 * with stax record's layout.
 * An off-CPU kind registered with KIND_NO_IP has no ip (staxd's grants without kernel
 * stacks): the fields after where the ip would be sit 8 bytes earlier.
 * Records are u64-aligned and little-endian (x86-64, arm64).
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "fast_decode.h"

#define PERF_RECORD_SAMPLE 9
#define PERF_RECORD_SWITCH 14
#define PERF_RECORD_SWITCH_CPU_WIDE 15

#define KIND_SAMPLING 0
#define KIND_SWITCH_STACK 1
#define KIND_SCHED_WAKING 2
#define KIND_NO_IP 0x100  /* record_decoder.KIND_NO_IP: flag on a kind, the sample has no ip */

/* enum perf_callchain_context */
#define PERF_CONTEXT_KERNEL ((uint64_t)-128)
#define PERF_CONTEXT_USER ((uint64_t)-512)
#define PERF_CONTEXT_MAX ((uint64_t)-4095)

static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

static inline void other(uint64_t *e, size_t off, size_t size)
{
    memset(e, 0, STAX_ENTRY_WORDS * sizeof(uint64_t));
    e[0] = STAX_TAG_OTHER;
    e[1] = off;
    e[2] = size;
}

static inline uint64_t field64(const uint8_t *rec, int64_t at, uint64_t absent)
{
    return at < 0 ? absent : rd64(rec + at);
}

static inline uint64_t field32(const uint8_t *rec, int64_t at, uint64_t absent)
{
    return at < 0 ? absent : rd32(rec + at);
}

/* One SAMPLE at `off`; 0 if it must go to the Python decoder. */
static int sample(const uint8_t *chunk, size_t off, size_t size, const stax_layout *l,
                  const uint64_t *ids, const int32_t *kinds, size_t nids,
                  int64_t waking_pid_offset, uint64_t *e)
{
    const uint8_t *rec = chunk + off;
    int32_t kind = KIND_SAMPLING;
    if (nids && l->id >= 0) {
        if ((int64_t)size < l->id + 8)
            return 0;
        uint64_t id = rd64(rec + l->id);
        for (size_t i = 0; i < nids; i++) {
            if (ids[i] == id) {
                kind = kinds[i];
                break;
            }
        }
    }
    /* without an ip the fields after it start 8 bytes earlier */
    int64_t cut = (kind & KIND_NO_IP) ? l->ip : INT64_MAX;
    kind &= ~KIND_NO_IP;
#define AT(f) (l->f < 0 ? -1 : l->f > cut ? l->f - 8 : l->f)
    int64_t nr_at = AT(nr);
    int64_t ips_rel = l->ips_at > cut ? l->ips_at - 8 : l->ips_at;
    if ((int64_t)size < ips_rel)
        return 0;  /* shorter than its fields */
    uint64_t nr = nr_at < 0 ? 0 : rd64(rec + nr_at);
    if (nr > (size - ips_rel) / 8)
        return 0;
    size_t at = off + ips_rel;
    uint64_t ip = cut == INT64_MAX ? field64(rec, l->ip, UINT64_MAX) : UINT64_MAX;
    int64_t pid_at = AT(pid);
    e[1] = field64(rec, AT(time), 0);
    e[2] = field32(rec, pid_at, UINT64_MAX);
    e[3] = pid_at < 0 ? UINT64_MAX : rd32(rec + pid_at + 4);
    e[4] = field32(rec, AT(cpu), UINT64_MAX);
    e[5] = field64(rec, AT(period), 0);
#undef AT
    e[6] = at + 8 * nr;  /* where a user register/stack dump starts (user_dump.py), for samples */
    e[7] = e[8] = e[9] = e[10] = 0;
    if (nr == 0) {
        if (kind == KIND_SAMPLING && ip < PERF_CONTEXT_MAX) {
            e[9] = off + (size_t)l->ip;  /* the ip alone is the user stack */
            e[10] = 1;
        }
    } else {
        uint64_t head = rd64(chunk + at);
        if (head == PERF_CONTEXT_USER) {
            e[9] = at + 8;
            e[10] = nr - 1;
        } else if (head == PERF_CONTEXT_KERNEL) {
            uint64_t u = 1;
            while (u < nr && rd64(chunk + at + 8 * u) != PERF_CONTEXT_USER)
                u++;
            e[7] = at + 8;
            e[8] = u - 1;
            if (u < nr) {
                e[9] = at + 8 * (u + 1);
                e[10] = nr - u - 1;
            }
        } else {
            return 0;  /* guest or hypervisor chain: the general splitter */
        }
    }
    if (kind == KIND_SAMPLING) {
        e[0] = STAX_TAG_SAMPLE;
    } else if (kind == KIND_SWITCH_STACK) {
        e[0] = STAX_TAG_SWITCH_STACK;
    } else if (kind == KIND_SCHED_WAKING) {
        /* PERF_SAMPLE_RAW after the callchain: u32 size; the tracepoint's fields */
        size_t raw_at = at + 8 * nr;
        size_t end = off + size;
        if (raw_at + 4 > end)
            return 0;
        int64_t raw_size = rd32(chunk + raw_at);
        int64_t pid_at = waking_pid_offset;
        int32_t wakee = -1;
        if (pid_at >= 0 && pid_at <= raw_size - 4 && raw_at + 8 + (size_t)pid_at <= end)
            wakee = (int32_t)rd32(chunk + raw_at + 4 + pid_at);
        e[0] = STAX_TAG_WAKING;
        e[6] = (uint64_t)(int64_t)wakee;
    } else {
        return 0;
    }
    return 1;
}

size_t stax_decode_layout(const uint8_t *chunk, size_t len, size_t start, const stax_layout *layout,
                          const uint64_t *ids, const int32_t *kinds, size_t nids,
                          int64_t waking_pid_offset, uint64_t *out, size_t cap, size_t *stop)
{
    size_t end = len & ~(size_t)7;  /* a ragged tail cannot be a record */
    const stax_layout *l = layout;
    size_t off = start;
    size_t n = 0;
    while (n < cap && off + 8 <= end) {
        uint32_t type = rd32(chunk + off);
        uint16_t misc = rd16(chunk + off + 4);
        size_t size = rd16(chunk + off + 6);
        if (size < 8 || off + size > end)
            break;  /* corrupt: the Python decoder stops here too */
        uint64_t *e = out + n * STAX_ENTRY_WORDS;
        if (size & 7) {
            other(e, off, size);
        } else if (type == PERF_RECORD_SAMPLE) {
            if (!sample(chunk, off, size, l, ids, kinds, nids, waking_pid_offset, e))
                other(e, off, size);
        } else if ((type == PERF_RECORD_SWITCH || type == PERF_RECORD_SWITCH_CPU_WIDE)
                   && (int64_t)size >= 8 + l->min_trailer) {
            const uint8_t *rec_end = chunk + off + size;
            e[0] = STAX_TAG_SWITCH;
            e[1] = l->t_time < 0 ? 0 : rd64(rec_end - l->t_time);
            e[2] = l->t_pid < 0 ? UINT64_MAX : rd32(rec_end - l->t_pid);
            e[3] = l->t_pid < 0 ? UINT64_MAX : rd32(rec_end - l->t_pid + 4);
            e[4] = l->t_cpu < 0 ? UINT64_MAX : rd32(rec_end - l->t_cpu);
            e[5] = misc;
            e[6] = e[7] = e[8] = e[9] = e[10] = 0;
        } else {
            other(e, off, size);
        }
        n++;
        off += size;
    }
    *stop = off;
    return n;
}

/* stax record's layouts: [identifier] ip, pid/tid, time, cpu/res, period, nr, ips; trailer
 * pid/tid, time, cpu/res, [identifier] */
static const stax_layout LIVE = {8, 16, 24, 32, 40, 48, -1, 56, 24, 16, 8, 24};
static const stax_layout LIVE_SHARED = {16, 24, 32, 40, 48, 56, 8, 64, 32, 24, 16, 32};

void stax_live_layout(int identifier, stax_layout *out)
{
    *out = identifier ? LIVE_SHARED : LIVE;
}

size_t stax_decode(const uint8_t *chunk, size_t len, size_t start, int identifier,
                   const uint64_t *ids, const int32_t *kinds, size_t nids,
                   int64_t waking_pid_offset, uint64_t *out, size_t cap, size_t *stop)
{
    return stax_decode_layout(chunk, len, start, identifier ? &LIVE_SHARED : &LIVE, ids, kinds, nids,
                              waking_pid_offset, out, cap, stop);
}

size_t stax_skip_decoded(const uint8_t *data, size_t start, size_t end, const uint8_t *decoded,
                         uint64_t *records)
{
    size_t off = start;
    uint64_t n = 0;
    while (off + 8 <= end) {
        uint32_t type = rd32(data + off);
        size_t size = rd16(data + off + 6);
        if (size < 8 || off + size > end || type >= 64 || !decoded[type])
            break;
        off += size;
        n++;
    }
    *records += n;
    return off;
}
