/* Compiled scan of PERF_RECORD_* chunks: the hot records (samples, context-switch
 * records) become fixed-size u64 entries that fast_decoder.py turns into objects;
 * anything else is handed back as STAX_TAG_OTHER for record_decoder.py.
 *
 * Layouts (perf_event.h, enum perf_event_type) for perf_event_attr.SAMPLE_TYPE with
 * sample_id_all, as record_decoder.py documents them: every record starts with
 * {u32 type; u16 misc; u16 size}; a SAMPLE is [u64 identifier] u64 ip; u32 pid, tid;
 * u64 time; u32 cpu, res; u64 period; u64 nr; u64 ips[nr]; [u32 size; raw...] or
 * [the user register/stack dump, decode/user_dump.py: its offset is the entry's word 6]; a
 * non-sample record ends in sample_id {u32 pid, tid; u64 time; u32 cpu, res; [u64 id]}.
 * An off-CPU kind registered with KIND_NO_IP has no ip (staxd's grants without kernel
 * stacks): its body starts 8 bytes earlier.
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

/* One SAMPLE at `off`; 0 if it must go to the Python decoder. */
static int sample(const uint8_t *chunk, size_t off, size_t size, size_t lead,
                  const uint64_t *ids, const int32_t *kinds, size_t nids,
                  int64_t waking_pid_offset, uint64_t *e)
{
    if (size < 16)
        return 0;
    int32_t kind = KIND_SAMPLING;
    if (nids) {
        uint64_t id = rd64(chunk + off + 8);
        for (size_t i = 0; i < nids; i++) {
            if (ids[i] == id) {
                kind = kinds[i];
                break;
            }
        }
    }
    /* without an ip the body starts 8 bytes earlier and `ip` reads the identifier (unused) */
    size_t back = (kind & KIND_NO_IP) ? 8 : 0;
    kind &= ~KIND_NO_IP;
    size_t body = off + 8 + lead - back;
    size_t ips_rel = 8 + lead + 48 - back;  /* ip, pid/tid, time, cpu/res, period, nr */
    if (size < ips_rel)
        return 0;
    uint64_t nr = rd64(chunk + body + 40);
    if (nr > (size - ips_rel) / 8)
        return 0;
    size_t at = off + ips_rel;
    uint64_t ip = rd64(chunk + body);
    e[1] = rd64(chunk + body + 16);
    e[2] = rd32(chunk + body + 8);
    e[3] = rd32(chunk + body + 12);
    e[4] = rd32(chunk + body + 24);
    e[5] = rd64(chunk + body + 32);
    e[6] = at + 8 * nr;  /* where a user register/stack dump starts (user_dump.py), for samples */
    e[7] = e[8] = e[9] = e[10] = 0;
    if (nr == 0) {
        if (kind == KIND_SAMPLING && ip < PERF_CONTEXT_MAX) {
            e[9] = body;  /* the ip alone is the user stack */
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

size_t stax_decode(const uint8_t *chunk, size_t len, size_t start, int identifier,
                   const uint64_t *ids, const int32_t *kinds, size_t nids,
                   int64_t waking_pid_offset, uint64_t *out, size_t cap, size_t *stop)
{
    size_t end = len & ~(size_t)7;  /* a ragged tail cannot be a record */
    size_t lead = identifier ? 8 : 0;
    size_t trailer = 24 + lead;
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
            if (!sample(chunk, off, size, lead, ids, kinds, nids, waking_pid_offset, e))
                other(e, off, size);
        } else if ((type == PERF_RECORD_SWITCH || type == PERF_RECORD_SWITCH_CPU_WIDE)
                   && size >= 8 + trailer) {
            const uint8_t *id = chunk + off + size - trailer;
            e[0] = STAX_TAG_SWITCH;
            e[1] = rd64(id + 8);
            e[2] = rd32(id);
            e[3] = rd32(id + 4);
            e[4] = rd32(id + 16);
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
