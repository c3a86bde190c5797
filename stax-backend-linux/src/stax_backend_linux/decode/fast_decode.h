/* The compiled record scan behind fast_decoder.py (read by fast_decode_build.py as the cdef).
 *
 * stax_decode() walks whole PERF_RECORD_* records from byte offset `start` of `chunk` and
 * writes one entry of STAX_ENTRY_WORDS u64 per record into `out` (at most `cap` entries):
 *
 *   [0] tag  [1] time  [2] pid  [3] tid  [4] cpu (-1 absent)  [5] period (SAMPLE) or misc (SWITCH)
 *   [6] wakee tid (WAKING, as int64), or where a SAMPLE's user register/stack dump would start
 *       (the byte after its callchain; decode/user_dump.py)  [7] kernel ips byte offset  [8] kernel ips count
 *   [9] user ips byte offset  [10] user ips count
 *
 * Records it does not decode itself are STAX_TAG_OTHER with [1] = byte offset, [2] = size:
 * the Python decoder handles those.  *stop gets the offset where the scan ended (the end of
 * the last whole record, a corrupt header, or a full `out`); the return value is the number
 * of entries written.
 */

#define STAX_ENTRY_WORDS 11

#define STAX_TAG_SAMPLE 0
#define STAX_TAG_SWITCH_STACK 1
#define STAX_TAG_WAKING 2
#define STAX_TAG_SWITCH 3
#define STAX_TAG_OTHER 4

/* Where one event's fields sit (sample_layout.py, SampleLayout.compiled): byte offsets from a
 * SAMPLE's start (ip, pid (then tid), time, cpu, period, callchain nr, event id) or from a
 * record's end for its sample_id trailer (t_pid, t_time, t_cpu: the field starts that many bytes
 * before the end); -1 where the event lacks the field (the entry then holds 0 for time and
 * period, -1 for pid, tid and cpu).  ips_at: where the callchain's ips (or, without
 * a callchain, what follows the fields) start; min_trailer: the sample_id trailer's size. */
typedef struct {
    int64_t ip, pid, time, cpu, period, nr, id, ips_at;
    int64_t t_pid, t_time, t_cpu, min_trailer;
} stax_layout;

/* stax_decode for the events of one layout (perf.data files: perf's layouts); the event id,
 * when kinds are given, is read at layout->id. */
size_t stax_decode_layout(const uint8_t *chunk, size_t len, size_t start, const stax_layout *layout,
                          const uint64_t *ids, const int32_t *kinds, size_t nids,
                          int64_t waking_pid_offset, uint64_t *out, size_t cap, size_t *stop);

/* stax record's layout (identifier: events share a ring, each sample leads with its id). */
void stax_live_layout(int identifier, stax_layout *out);

size_t stax_decode(const uint8_t *chunk, size_t len, size_t start, int identifier,
                   const uint64_t *ids, const int32_t *kinds, size_t nids,
                   int64_t waking_pid_offset, uint64_t *out, size_t cap, size_t *stop);

/* perf.data's record walk (perf_data/record_walker.py): from `start`, skip the records whose
 * type (below 64) has decoded[type] set; returns the offset of the first other record, bad
 * header or `end`, and adds the records skipped to *records. */
size_t stax_skip_decoded(const uint8_t *data, size_t start, size_t end, const uint8_t *decoded,
                         uint64_t *records);
