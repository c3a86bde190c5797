/* The compiled record scan behind fast_decoder.py (read by fast_decode_build.py as the cdef).
 *
 * stax_decode() walks whole PERF_RECORD_* records from byte offset `start` of `chunk` and
 * writes one entry of STAX_ENTRY_WORDS u64 per record into `out` (at most `cap` entries):
 *
 *   [0] tag  [1] time  [2] pid  [3] tid  [4] cpu  [5] period (SAMPLE) or misc (SWITCH)
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

size_t stax_decode(const uint8_t *chunk, size_t len, size_t start, int identifier,
                   const uint64_t *ids, const int32_t *kinds, size_t nids,
                   int64_t waking_pid_offset, uint64_t *out, size_t cap, size_t *stop);
