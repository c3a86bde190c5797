/* Row work on whole columns for the recording builder (read by fast_decode_build.py as cdef).
 *
 * compiled_stream.py hands the builder runs of samples whose stacks are raw ids
 * (stax.event_columns); two steps there would otherwise be a Python loop per sample:
 *   stax_gather():  out[i] = table[index[i]] -- the stack id of each sample's raw stack
 *                   (StackInterner's raw -> stack id table); rows whose raw id is outside the
 *                   table or has a negative entry (not interned yet) get -1, and their raw
 *                   ids go to `missing` in row order (its length is returned);
 *   stax_group3():  the rows added up per distinct (a[i], b[i], c[i]) -- (pid, tid, raw stack)
 *                   -> count, weight sum -- in order of first appearance, for sample_totals.
 * Columns are int64 arrays (Python's array('q') buffers).
 */

size_t stax_gather(const int64_t *table, size_t ntable, const int64_t *index, size_t n, int64_t *out,
                   int64_t *missing);
/* returns the number of groups written to ga, gb, gc, count, wsum (each room for n), or -1 out of memory */
int64_t stax_group3(const int64_t *a, const int64_t *b, const int64_t *c, const int64_t *weight, size_t n,
                    int64_t *ga, int64_t *gb, int64_t *gc, int64_t *count, int64_t *wsum);
